/*
 * libchat/core/accessors.c - the read-only accessors of the public handles.
 *
 * Strings are never NULL: an unset field (or a NULL handle) reads as "".
 * Indexed getters return NULL (or 0) when the index is out of range.
 */
#include "core/internal.h"

static const char empty[] = "";

#define STR(s) ((s) != NULL ? (const char *)(s) : empty)

/* Field readers: a NULL handle reads like an empty one. */
#define GET_STR(obj, field) ((obj) != NULL ? STR((obj)->field) : empty)
#define GET_FIXED(obj, field) ((obj) != NULL ? (const char *)(obj)->field : empty)
#define GET_VAL(obj, field, zero) ((obj) != NULL ? (obj)->field : (zero))

static const char *
id_at(const char (*ids)[CHAT_ID_SIZE], size_t n, size_t i)
{
    if (ids == NULL || i >= n) {
        return NULL;
    }
    return ids[i];
}

/* ---------------------------------------------------------------- team --- */

const char *chat_team_id(const chat_team *t) { return GET_FIXED(t, id); }
const char *chat_team_name(const chat_team *t) { return GET_STR(t, name); }
const char *chat_team_domain(const chat_team *t) { return GET_STR(t, domain); }

/* ---------------------------------------------------------------- user --- */

const char *chat_user_id(const chat_user *u) { return GET_FIXED(u, id); }
const char *chat_user_team_id(const chat_user *u) { return GET_FIXED(u, team_id); }
const char *chat_user_email(const chat_user *u) { return GET_STR(u, email); }
const char *chat_user_name(const chat_user *u) { return GET_STR(u, name); }
const char *chat_user_real_name(const chat_user *u) { return GET_STR(u, real_name); }
const char *chat_user_display_name(const chat_user *u) { return GET_STR(u, display_name); }
const char *chat_user_title(const chat_user *u) { return GET_STR(u, title); }
const char *chat_user_status_text(const chat_user *u) { return GET_STR(u, status_text); }
const char *chat_user_status_emoji(const chat_user *u) { return GET_STR(u, status_emoji); }
const char *chat_user_tz(const chat_user *u) { return GET_STR(u, tz); }
bool chat_user_is_admin(const chat_user *u) { return GET_VAL(u, is_admin, false); }
bool chat_user_is_deleted(const chat_user *u) { return GET_VAL(u, deleted, false); }
int64_t chat_user_updated(const chat_user *u) { return GET_VAL(u, updated, 0); }

/* ------------------------------------------------------------- channel --- */

const char *chat_channel_id(const chat_channel *c) { return GET_FIXED(c, id); }
const char *chat_channel_team_id(const chat_channel *c) { return GET_FIXED(c, team_id); }
const char *chat_channel_name(const chat_channel *c) { return GET_STR(c, name); }

chat_channel_type
chat_channel_type_of(const chat_channel *c)
{
    return c != NULL ? c->type : (chat_channel_type)0;
}

const char *chat_channel_creator(const chat_channel *c) { return GET_FIXED(c, creator); }
int64_t chat_channel_created(const chat_channel *c) { return GET_VAL(c, created, 0); }
const char *chat_channel_topic(const chat_channel *c) { return GET_STR(c, topic); }

const char *
chat_channel_topic_creator(const chat_channel *c)
{
    return GET_FIXED(c, topic_creator);
}

int64_t
chat_channel_topic_last_set(const chat_channel *c)
{
    return GET_VAL(c, topic_last_set, 0);
}

const char *chat_channel_purpose(const chat_channel *c) { return GET_STR(c, purpose); }

const char *
chat_channel_purpose_creator(const chat_channel *c)
{
    return GET_FIXED(c, purpose_creator);
}

int64_t
chat_channel_purpose_last_set(const chat_channel *c)
{
    return GET_VAL(c, purpose_last_set, 0);
}

bool chat_channel_is_archived(const chat_channel *c) { return GET_VAL(c, is_archived, false); }
bool chat_channel_is_general(const chat_channel *c) { return GET_VAL(c, is_general, false); }
int64_t chat_channel_member_count(const chat_channel *c) { return GET_VAL(c, member_count, 0); }

const char *
chat_channel_last_activity(const chat_channel *c)
{
    return GET_FIXED(c, last_activity);
}

bool chat_channel_is_member(const chat_channel *c) { return GET_VAL(c, is_member, false); }
const char *chat_channel_last_read(const chat_channel *c) { return GET_FIXED(c, last_read); }
int64_t chat_channel_unread_count(const chat_channel *c) { return GET_VAL(c, unread_count, 0); }

int64_t
chat_channel_mention_count(const chat_channel *c)
{
    return GET_VAL(c, mention_count, 0);
}

/* ------------------------------------------------------------- message --- */

const char *chat_message_channel(const chat_message *m) { return GET_FIXED(m, channel); }
const char *chat_message_ts(const chat_message *m) { return GET_FIXED(m, ts); }
const char *chat_message_user(const chat_message *m) { return GET_FIXED(m, user); }
const char *chat_message_text(const chat_message *m) { return GET_STR(m, text); }
const char *chat_message_subtype(const chat_message *m) { return GET_STR(m, subtype); }
const char *chat_message_thread_ts(const chat_message *m) { return GET_FIXED(m, thread_ts); }

const char *chat_message_blocks(const chat_message *m) { return GET_STR(m, blocks); }
const char *chat_message_attachments(const chat_message *m) { return GET_STR(m, attachments); }
const char *chat_message_metadata(const chat_message *m) { return GET_STR(m, metadata); }
const char *chat_message_username(const chat_message *m) { return GET_STR(m, username); }
const char *chat_message_icon_emoji(const chat_message *m) { return GET_STR(m, icon_emoji); }
const char *chat_message_icon_url(const chat_message *m) { return GET_STR(m, icon_url); }
const char *chat_message_bot_id(const chat_message *m) { return GET_FIXED(m, bot_id); }
unsigned chat_message_flags(const chat_message *m) { return GET_VAL(m, flags, 0u); }

const char *
chat_message_client_msg_id(const chat_message *m)
{
    return GET_STR(m, client_msg_id);
}

const char *chat_message_edited_ts(const chat_message *m) { return GET_FIXED(m, edited_ts); }

const char *
chat_message_edited_user(const chat_message *m)
{
    return GET_FIXED(m, edited_user);
}

int64_t chat_message_reply_count(const chat_message *m) { return GET_VAL(m, reply_count, 0); }

const char *
chat_message_latest_reply(const chat_message *m)
{
    return GET_FIXED(m, latest_reply);
}

size_t
chat_message_reply_user_count(const chat_message *m)
{
    return m != NULL && m->reply_users != NULL ? m->n_reply_users : 0;
}

const char *
chat_message_reply_user(const chat_message *m, size_t i)
{
    if (m == NULL) {
        return NULL;
    }
    return id_at((const char(*)[CHAT_ID_SIZE])m->reply_users, m->n_reply_users, i);
}

size_t
chat_message_reaction_count(const chat_message *m)
{
    return m != NULL && m->reactions != NULL ? m->n_reactions : 0;
}

static const chat_reaction *
reaction_at(const chat_message *m, size_t i)
{
    if (m == NULL || m->reactions == NULL || i >= m->n_reactions) {
        return NULL;
    }
    return &m->reactions[i];
}

const char *
chat_message_reaction_name(const chat_message *m, size_t i)
{
    const chat_reaction *r = reaction_at(m, i);

    return r != NULL ? STR(r->name) : NULL;
}

size_t
chat_message_reaction_user_count(const chat_message *m, size_t i)
{
    const chat_reaction *r = reaction_at(m, i);

    return r != NULL && r->users != NULL ? r->n_users : 0;
}

const char *
chat_message_reaction_user(const chat_message *m, size_t i, size_t j)
{
    const chat_reaction *r = reaction_at(m, i);

    if (r == NULL) {
        return NULL;
    }
    return id_at((const char(*)[CHAT_ID_SIZE])r->users, r->n_users, j);
}

size_t
chat_message_file_count(const chat_message *m)
{
    return m != NULL && m->files != NULL ? m->n_files : 0;
}

const char *
chat_message_file_id(const chat_message *m, size_t i)
{
    if (m == NULL) {
        return NULL;
    }
    return id_at((const char(*)[CHAT_ID_SIZE])m->files, m->n_files, i);
}

size_t
chat_message_mention_count(const chat_message *m)
{
    return m != NULL && m->mentions != NULL ? m->n_mentions : 0;
}

const char *
chat_message_mention(const chat_message *m, size_t i)
{
    if (m == NULL) {
        return NULL;
    }
    return id_at((const char(*)[CHAT_ID_SIZE])m->mentions, m->n_mentions, i);
}

bool
chat_message_mentions_channel(const chat_message *m)
{
    return m != NULL && (m->mention_flags & CHAT_MENTION_CHANNEL) != 0;
}

bool
chat_message_mentions_here(const chat_message *m)
{
    return m != NULL && (m->mention_flags & CHAT_MENTION_HERE) != 0;
}

bool
chat_message_is_reply_broadcast(const chat_message *m)
{
    return GET_VAL(m, reply_broadcast, false);
}

/* ---------------------------------------------------------------- file --- */

const char *chat_file_id(const chat_file *f) { return GET_FIXED(f, id); }
const char *chat_file_user(const chat_file *f) { return GET_FIXED(f, user); }
const char *chat_file_name(const chat_file *f) { return GET_STR(f, name); }
const char *chat_file_title(const chat_file *f) { return GET_STR(f, title); }
const char *chat_file_mimetype(const chat_file *f) { return GET_STR(f, mimetype); }
int64_t chat_file_size(const chat_file *f) { return GET_VAL(f, size, 0); }
const char *chat_file_sha256(const chat_file *f) { return GET_FIXED(f, sha256); }
int64_t chat_file_created(const chat_file *f) { return GET_VAL(f, created, 0); }

size_t
chat_file_channel_count(const chat_file *f)
{
    return f != NULL && f->channels != NULL ? f->n_channels : 0;
}

const char *
chat_file_channel(const chat_file *f, size_t i)
{
    if (f == NULL) {
        return NULL;
    }
    return id_at((const char(*)[CHAT_ID_SIZE])f->channels, f->n_channels, i);
}

/* ----------------------------------------------------------------- app --- */

const char *chat_app_id(const chat_app *a) { return GET_FIXED(a, id); }
const char *chat_app_team_id(const chat_app *a) { return GET_FIXED(a, team_id); }
const char *chat_app_name(const chat_app *a) { return GET_STR(a, name); }
const char *chat_app_bot_id(const chat_app *a) { return GET_FIXED(a, bot_id); }
const char *chat_app_bot_user_id(const chat_app *a) { return GET_FIXED(a, bot_user_id); }
const char *chat_app_creator(const chat_app *a) { return GET_FIXED(a, creator); }
const char *chat_app_scopes(const chat_app *a) { return GET_STR(a, scopes); }
const char *chat_app_manifest(const chat_app *a) { return GET_STR(a, manifest); }
const char *chat_app_signing_secret(const chat_app *a) { return GET_STR(a, signing_secret); }
int64_t chat_app_created(const chat_app *a) { return GET_VAL(a, created, 0); }
