/*
 * libchat/core/entity.c - constructors, destructors and deep copies of the
 * entities laid out in chat/backend/types.h.
 *
 * Every owned string and array is allocated with chat_malloc() and friends so
 * that entities built by a backend and entities built by libchat are freed the
 * same way.
 */
#include <string.h>

#include <chat/backend/store.h>

#include "core/internal.h"

/* ------------------------------------------------------------ helpers --- */

bool
chati_copy_fixed(char *dst, size_t size, const char *src)
{
    size_t n;

    if (dst == NULL || size == 0) {
        return false;
    }
    if (src == NULL) {
        dst[0] = '\0';
        return true;
    }
    n = strnlen(src, size);
    if (n >= size) {
        dst[0] = '\0';
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

/* NULL both when n == 0 (nothing to copy) and on allocation failure: callers
 * tell them apart by n. */
char (*chati_ids_dup(const char (*ids)[CHAT_ID_SIZE], size_t n))[CHAT_ID_SIZE]
{
    char(*out)[CHAT_ID_SIZE];

    if (ids == NULL || n == 0) {
        return NULL;
    }
    if (n > SIZE_MAX / CHAT_ID_SIZE) {
        return NULL;
    }
    out = chat_malloc(n * CHAT_ID_SIZE);
    if (out == NULL) {
        return NULL;
    }
    memcpy(out, ids, n * CHAT_ID_SIZE);
    return out;
}

void
chati_reactions_free(chat_reaction *r, size_t n)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        chat_free(r[i].name);
        chat_free(r[i].users);
    }
    chat_free(r);
}

/* Duplicates an optional string: NULL stays NULL, and *ok turns false when a
 * non-NULL string could not be copied. */
static char *
dup_opt(const char *s, bool *ok)
{
    char *d;

    if (s == NULL) {
        return NULL;
    }
    d = chat_strdup(s);
    if (d == NULL) {
        *ok = false;
    }
    return d;
}

static char (*ids_dup_opt(const char (*ids)[CHAT_ID_SIZE], size_t *n, bool *ok))[CHAT_ID_SIZE]
{
    char(*d)[CHAT_ID_SIZE];

    if (ids == NULL || *n == 0) {
        *n = 0;
        return NULL;
    }
    d = chati_ids_dup(ids, *n);
    if (d == NULL) {
        *n = 0;
        *ok = false;
    }
    return d;
}

/* ---------------------------------------------------------------- team --- */

chat_team *
chat_team_new(void)
{
    return chat_calloc(1, sizeof(chat_team));
}

void
chat_team_free(chat_team *t)
{
    if (t == NULL) {
        return;
    }
    chat_free(t->name);
    chat_free(t->domain);
    chat_free(t);
}

/* ---------------------------------------------------------------- user --- */

chat_user *
chat_user_new(void)
{
    return chat_calloc(1, sizeof(chat_user));
}

void
chat_user_free(chat_user *u)
{
    if (u == NULL) {
        return;
    }
    chat_free(u->email);
    chat_free(u->name);
    chat_free(u->real_name);
    chat_free(u->display_name);
    chat_free(u->title);
    chat_free(u->status_text);
    chat_free(u->status_emoji);
    chat_free(u->tz);
    chat_free(u);
}

chat_user *
chat_user_dup(const chat_user *u)
{
    chat_user *d;
    bool ok = true;

    if (u == NULL) {
        return NULL;
    }
    if ((d = chat_malloc(sizeof(*d))) == NULL) {
        return NULL;
    }
    *d = *u;
    d->email = dup_opt(u->email, &ok);
    d->name = dup_opt(u->name, &ok);
    d->real_name = dup_opt(u->real_name, &ok);
    d->display_name = dup_opt(u->display_name, &ok);
    d->title = dup_opt(u->title, &ok);
    d->status_text = dup_opt(u->status_text, &ok);
    d->status_emoji = dup_opt(u->status_emoji, &ok);
    d->tz = dup_opt(u->tz, &ok);
    if (!ok) {
        chat_user_free(d);
        return NULL;
    }
    return d;
}

/* ---------------------------------------------------------- credential --- */

chat_credential *
chat_credential_new(void)
{
    return chat_calloc(1, sizeof(chat_credential));
}

void
chat_credential_free(chat_credential *c)
{
    if (c == NULL) {
        return;
    }
    chat_free(c->email);
    if (c->pwhash != NULL) {
        /* Not a secret as such, but there is no reason to leave it lying around. */
        memset(c->pwhash, 0, strlen(c->pwhash));
        chat_free(c->pwhash);
    }
    chat_free(c);
}

/* ----------------------------------------------------------------- app --- */

chat_app *
chat_app_new(void)
{
    return chat_calloc(1, sizeof(chat_app));
}

void
chat_app_free(chat_app *a)
{
    if (a == NULL) {
        return;
    }
    chat_free(a->name);
    if (a->signing_secret != NULL) {
        memset(a->signing_secret, 0, strlen(a->signing_secret));
        chat_free(a->signing_secret);
    }
    chat_free(a->scopes);
    chat_free(a->manifest);
    chat_free(a);
}

void
chat_usergroups_free(chat_usergroup *g, size_t n)
{
    for (size_t i = 0; g != NULL && i < n; i++) {
        chat_free(g[i].name);
        chat_free(g[i].handle);
        chat_free(g[i].description);
        chat_free(g[i].users);
        chat_free(g[i].channels);
    }
    chat_free(g);
}

void
chat_bookmarks_free(chat_bookmark *b, size_t n)
{
    for (size_t i = 0; b != NULL && i < n; i++) {
        chat_free(b[i].title);
        chat_free(b[i].link);
        chat_free(b[i].emoji);
    }
    chat_free(b);
}

void
chat_scheduled_free(chat_scheduled *q, size_t n)
{
    for (size_t i = 0; q != NULL && i < n; i++) {
        chat_free(q[i].text);
        chat_free(q[i].data);
    }
    chat_free(q);
}

chat_view *
chat_view_new(void)
{
    return chat_calloc(1, sizeof(chat_view));
}

void
chat_view_free(chat_view *v)
{
    if (v == NULL) {
        return;
    }
    chat_free(v->trigger);
    chat_free(v->external_id);
    chat_free(v->body);
    chat_free(v->values);
    chat_free(v);
}

void
chat_app_events_free(chat_app_event *evs, size_t n)
{
    for (size_t i = 0; evs != NULL && i < n; i++) {
        chat_free(evs[i].data);
    }
    chat_free(evs);
}

/* ------------------------------------------------------------- channel --- */

chat_channel *
chat_channel_new(void)
{
    return chat_calloc(1, sizeof(chat_channel));
}

void
chat_channel_free(chat_channel *c)
{
    if (c == NULL) {
        return;
    }
    chat_free(c->name);
    chat_free(c->topic);
    chat_free(c->purpose);
    chat_free(c->dm_key);
    chat_free(c);
}

chat_channel *
chat_channel_dup(const chat_channel *c)
{
    chat_channel *d;
    bool ok = true;

    if (c == NULL) {
        return NULL;
    }
    if ((d = chat_malloc(sizeof(*d))) == NULL) {
        return NULL;
    }
    *d = *c;
    d->name = dup_opt(c->name, &ok);
    d->topic = dup_opt(c->topic, &ok);
    d->purpose = dup_opt(c->purpose, &ok);
    d->dm_key = dup_opt(c->dm_key, &ok);
    if (!ok) {
        chat_channel_free(d);
        return NULL;
    }
    return d;
}

/* ------------------------------------------------------------- message --- */

chat_message *
chat_message_new(void)
{
    return chat_calloc(1, sizeof(chat_message));
}

void
chat_message_free(chat_message *m)
{
    if (m == NULL) {
        return;
    }
    chat_free(m->text);
    chat_free(m->subtype);
    chat_free(m->client_msg_id);
    chat_free(m->reply_users);
    chati_reactions_free(m->reactions, m->n_reactions);
    chat_free(m->files);
    chat_free(m->mentions);
    chat_free(m->blocks);
    chat_free(m->attachments);
    chat_free(m->metadata);
    chat_free(m->username);
    chat_free(m->icon_emoji);
    chat_free(m->icon_url);
    chat_free(m);
}

chat_message *
chat_message_dup(const chat_message *m)
{
    chat_message *d;
    bool ok = true;

    if (m == NULL) {
        return NULL;
    }
    if ((d = chat_malloc(sizeof(*d))) == NULL) {
        return NULL;
    }
    *d = *m;
    d->text = dup_opt(m->text, &ok);
    d->subtype = dup_opt(m->subtype, &ok);
    d->client_msg_id = dup_opt(m->client_msg_id, &ok);
    d->blocks = dup_opt(m->blocks, &ok);
    d->attachments = dup_opt(m->attachments, &ok);
    d->metadata = dup_opt(m->metadata, &ok);
    d->username = dup_opt(m->username, &ok);
    d->icon_emoji = dup_opt(m->icon_emoji, &ok);
    d->icon_url = dup_opt(m->icon_url, &ok);
    d->reply_users = ids_dup_opt((const char(*)[CHAT_ID_SIZE])m->reply_users,
                                 &d->n_reply_users, &ok);
    d->files = ids_dup_opt((const char(*)[CHAT_ID_SIZE])m->files, &d->n_files, &ok);
    d->mentions = ids_dup_opt((const char(*)[CHAT_ID_SIZE])m->mentions, &d->n_mentions, &ok);
    d->reactions = NULL;
    d->n_reactions = 0;
    if (ok && m->reactions != NULL && m->n_reactions > 0) {
        d->reactions = chat_calloc(m->n_reactions, sizeof(chat_reaction));
        if (d->reactions == NULL) {
            ok = false;
        } else {
            /* n_reactions counts the slots to free, filled or not (calloc'd). */
            d->n_reactions = m->n_reactions;
            for (size_t i = 0; i < m->n_reactions && ok; i++) {
                const chat_reaction *src = &m->reactions[i];
                chat_reaction *dst = &d->reactions[i];

                dst->name = dup_opt(src->name, &ok);
                dst->n_users = src->n_users;
                dst->users = ids_dup_opt((const char(*)[CHAT_ID_SIZE])src->users,
                                         &dst->n_users, &ok);
            }
        }
    }
    if (!ok) {
        chat_message_free(d);
        return NULL;
    }
    return d;
}

/* ---------------------------------------------------------------- file --- */

chat_file *
chat_file_new(void)
{
    return chat_calloc(1, sizeof(chat_file));
}

void
chat_file_free(chat_file *f)
{
    if (f == NULL) {
        return;
    }
    chat_free(f->name);
    chat_free(f->title);
    chat_free(f->mimetype);
    chat_free(f->channels);
    chat_free(f);
}

/* -------------------------------------------------------------- outbox --- */

void
chat_outbox_items_free(chat_outbox_item *items, size_t n)
{
    if (items == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        chat_free(items[i].topic);
        chat_free(items[i].key);
        chat_free(items[i].data);
    }
    chat_free(items);
}
