/* Conversations: channels, DMs and group DMs, membership and read markers. */
#include <stdlib.h>
#include <string.h>

#include "domain/ctx.h"

#define CHANNEL_COMMON(ctx, s)                                                           \
    do {                                                                                 \
        chati_clear_errmsg();                                                            \
        CHATI_REQUIRE(ctx, channels, "channel");                                         \
        chat_err rv_ = chati_check_session(s);                                           \
        if (rv_ != CHAT_OK)                                                              \
            return rv_;                                                                  \
    } while (0)

#define MAX_MPIM_MEMBERS 9
#define MAX_INVITE 1000

static bool is_dm(const chat_channel *c)
{
    return c->type == CHAT_CHANNEL_IM || c->type == CHAT_CHANNEL_MPIM;
}

static chat_err not_found(const char *id)
{
    return chati_fail(CHAT_ERR_CHANNEL_NOT_FOUND, "no channel %.30s", id ? id : "(null)");
}

static bool is_channel_id(const char *s)
{
    return chati_id_valid(s, 0) && (s[0] == 'C' || s[0] == 'D' || s[0] == 'G');
}

/* A post's target that is not a channel id: "#name" or "name" of a channel
 * of the caller's team, or a user id, whose DM with the caller is opened. */
static chat_err lookup_post_target(chat_ctx *ctx, const chat_session *s, const char *target,
                                   chat_channel **out)
{
    chat_err rv;
    if (chati_id_valid(target, 0) && (target[0] == 'U' || target[0] == 'W')) {
        rv = chat_channel_open_dm(ctx, s, &target, 1, out);
        return rv == CHAT_ERR_USER_NOT_FOUND || rv == CHAT_ERR_USERS_NOT_FOUND
                   ? not_found(target)
                   : rv;
    }
    const char *name = target[0] == '#' ? target + 1 : target;
    if (chati_check_channel_name(name) != CHAT_OK)
        return not_found(target);
    rv = ctx->channels->get_by_name(ctx->channels_impl, s->team_id, name, out);
    if (rv == CHAT_OK && is_dm(*out)) {
        chat_channel_free(*out);
        *out = NULL;
        return not_found(target);
    }
    return chati_not_found(rv) ? not_found(target) : rv;
}

static chat_err channel_visible_local(chat_ctx *ctx, const chat_session *s,
                                     const char *channel_id, unsigned flags,
                                     chat_channel **out, bool *is_member)
{
    chat_channel *c = NULL;
    chat_err rv;
    if (is_channel_id(channel_id))
        rv = ctx->channels->get(ctx->channels_impl, channel_id, &c);
    else if ((flags & CHATI_CHANNEL_POST_TARGET) && channel_id && *channel_id)
        rv = lookup_post_target(ctx, s, channel_id, &c);
    else
        return not_found(channel_id);
    if (chati_not_found(rv))
        return not_found(channel_id);
    if (rv != CHAT_OK)
        return rv;
    bool member = false;
    if (strcmp(c->team_id, s->team_id) != 0)
        rv = not_found(channel_id);
    else
        rv = ctx->channels->is_member(ctx->channels_impl, c->id, s->user_id, &member);
    if (rv == CHAT_OK && !member && c->type != CHAT_CHANNEL_PUBLIC)
        rv = not_found(channel_id); /* private conversations do not admit they exist */
    if (rv != CHAT_OK) {
        chat_channel_free(c);
        return rv;
    }
    c->is_member = member;
    if (is_member)
        *is_member = member;
    *out = c;
    return CHAT_OK;
}

/* Read marker and counts of the caller (from the user service). */
static void fill_caller_fields(chat_ctx *ctx, const chat_session *s, chat_channel *c)
{
    if (c->is_member)
        (void)chati_read_state(ctx, s, c);
}

static void publish_channel(chat_ctx *ctx, chat_event_type type, const chat_session *s,
                            const chat_channel *c, const char *target);

static chat_err join_general_local(chat_ctx *ctx, const char *team_id, const char *user_id)
{
    chat_channel *g = NULL;
    chat_err rv = ctx->channels->get_by_name(ctx->channels_impl, team_id, "general", &g);
    if (chati_not_found(rv)) {
        /* The first person to arrive opens #general. */
        g = chat_channel_new();
        rv = g ? chati_id_new('C', g->id) : chati_fail(CHAT_ERR_NOMEM, "channel");
        if (rv == CHAT_OK) {
            chati_copy_fixed(g->team_id, CHAT_ID_SIZE, team_id);
            chati_copy_fixed(g->creator, CHAT_ID_SIZE, user_id);
            g->name = chat_strdup("general");
            g->type = CHAT_CHANNEL_PUBLIC;
            g->is_general = true;
            g->created = chati_now_us() / 1000000;
            g->purpose = chat_strdup("This channel is for workspace-wide communication.");
            rv = g->name && g->purpose
                     ? ctx->channels->create(ctx->channels_impl, g, NULL, 0, NULL)
                     : chati_fail(CHAT_ERR_NOMEM, "channel");
        }
        chat_channel_free(g);
        g = NULL;
        /* Made here or concurrently by someone else: read it back either way. */
        if (rv == CHAT_OK || rv == CHAT_ERR_NAME_TAKEN || rv == CHAT_ERR_DUPLICATE)
            rv = ctx->channels->get_by_name(ctx->channels_impl, team_id, "general", &g);
    }
    size_t added = 0;
    if (rv == CHAT_OK)
        rv = ctx->channels->add_members(ctx->channels_impl, g->id,
                                        (const char(*)[CHAT_ID_SIZE])user_id, 1, &added);
    if (rv == CHAT_OK && added) {
        chat_session who = {{0}, {0}, false};
        chati_copy_fixed(who.user_id, CHAT_ID_SIZE, user_id);
        chati_copy_fixed(who.team_id, CHAT_ID_SIZE, team_id);
        publish_channel(ctx, CHAT_EVENT_MEMBER_JOINED, &who, g, user_id);
    }
    chat_channel_free(g);
    return rv;
}

static chat_err readable_channels_local(chat_ctx *ctx, const chat_session *s,
                                       char (**ids)[CHAT_ID_SIZE], size_t *n)
{
    char(*out)[CHAT_ID_SIZE] = NULL;
    size_t count = 0;
    char *cursor = NULL;
    chat_err rv = CHAT_OK;
    do {
        chat_list *page = NULL;
        rv = ctx->channels->list(ctx->channels_impl, s->team_id, CHAT_CHANNEL_ALL, false,
                                 s->user_id, cursor, CHAT_MAX_PAGE, &page);
        chat_free(cursor);
        cursor = NULL;
        if (rv != CHAT_OK)
            break;
        size_t k = chat_list_count(page);
        void *grown = chat_realloc(out, (count + k) * sizeof *out);
        if (grown == NULL) {
            chat_list_free(page);
            rv = chati_fail(CHAT_ERR_NOMEM, "channel ids");
            break;
        }
        out = grown;
        for (size_t i = 0; i < k; i++)
            memcpy(out[count++], chat_list_channel(page, i)->id, CHAT_ID_SIZE);
        const char *next = chat_list_next_cursor(page);
        if (next && *next)
            cursor = chat_strdup(next);
        chat_list_free(page);
    } while (cursor);
    if (rv != CHAT_OK) {
        chat_free(out);
        return rv;
    }
    *ids = out;
    *n = count;
    return CHAT_OK;
}

static void publish_channel(chat_ctx *ctx, chat_event_type type, const chat_session *s,
                            const chat_channel *c, const char *target)
{
    chat_event *ev = chati_event_new(type);
    if (ev == NULL)
        return;
    memcpy(ev->team_id, c->team_id, CHAT_ID_SIZE);
    memcpy(ev->channel_id, c->id, CHAT_ID_SIZE);
    memcpy(ev->user_id, s->user_id, CHAT_ID_SIZE);
    if (target)
        chati_copy_fixed(ev->target_user, CHAT_ID_SIZE, target);
    ev->channel = chat_channel_dup(c);
    chati_publish(ctx, ev);
    chati_event_free(ev);
}

chat_err chat_channel_create(chat_ctx *ctx, const chat_session *s, const char *name,
                             bool is_private, chat_channel **out)
{
    CHANNEL_COMMON(ctx, s);
    if (out)
        *out = NULL;
    chat_err rv = chati_check_channel_name(name);
    if (rv != CHAT_OK)
        return rv;
    chat_channel *c = chat_channel_new();
    if (c == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "channel");
    rv = chati_id_new(is_private ? 'G' : 'C', c->id);
    if (rv == CHAT_OK) {
        memcpy(c->team_id, s->team_id, CHAT_ID_SIZE);
        memcpy(c->creator, s->user_id, CHAT_ID_SIZE);
        c->type = is_private ? CHAT_CHANNEL_PRIVATE : CHAT_CHANNEL_PUBLIC;
        c->created = chati_now_us() / 1000000;
        c->name = chat_strdup(name);
        rv = c->name ? ctx->channels->create(ctx->channels_impl, c,
                                             (const char(*)[CHAT_ID_SIZE])s->user_id, 1, NULL)
                     : chati_fail(CHAT_ERR_NOMEM, "channel");
    }
    if (rv == CHAT_OK) {
        c->member_count = 1;
        c->is_member = true;
        publish_channel(ctx, CHAT_EVENT_CHANNEL_CREATED, s, c, NULL);
        publish_channel(ctx, CHAT_EVENT_MEMBER_JOINED, s, c, s->user_id);
    }
    if (rv == CHAT_OK && out)
        *out = c;
    else
        chat_channel_free(c);
    return rv;
}

chat_err chat_channel_info(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                           chat_channel **out)
{
    CHANNEL_COMMON(ctx, s);
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    chat_err rv = chati_channel_visible(ctx, s, channel_id, out, NULL);
    if (rv == CHAT_OK)
        fill_caller_fields(ctx, s, *out);
    return rv;
}

/* Marks each channel of a page with the caller's membership. */
static chat_err mark_membership(chat_ctx *ctx, const chat_session *s, chat_list *l)
{
    for (size_t i = 0; i < chat_list_count(l); i++) {
        chat_channel *c = (chat_channel *)chat_list_channel(l, i);
        chat_err rv = ctx->channels->is_member(ctx->channels_impl, c->id, s->user_id,
                                               &c->is_member);
        if (rv != CHAT_OK)
            return rv;
    }
    return CHAT_OK;
}

static chat_err check_types(unsigned types, unsigned *out)
{
    if (types == 0)
        types = CHAT_CHANNEL_PUBLIC;
    if (types & ~(unsigned)CHAT_CHANNEL_ALL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "unknown conversation type");
    *out = types;
    return CHAT_OK;
}

chat_err chat_channel_list(chat_ctx *ctx, const chat_session *s, unsigned types,
                           bool exclude_archived, const char *cursor, int limit,
                           chat_list **out)
{
    CHANNEL_COMMON(ctx, s);
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    chat_err rv;
    if ((rv = check_types(types, &types)) != CHAT_OK || (rv = chati_page_limit(limit, &limit)))
        return rv;
    rv = ctx->channels->list(ctx->channels_impl, s->team_id, types, exclude_archived,
                             s->user_id, cursor && *cursor ? cursor : NULL, limit, out);
    if (rv == CHAT_OK && (rv = mark_membership(ctx, s, *out)) != CHAT_OK) {
        chat_list_free(*out);
        *out = NULL;
    }
    return rv;
}

chat_err chat_channel_list_for_user(chat_ctx *ctx, const chat_session *s, const char *user_id,
                                    unsigned types, bool exclude_archived, const char *cursor,
                                    int limit, chat_list **out)
{
    CHANNEL_COMMON(ctx, s);
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    chat_err rv;
    if ((rv = check_types(types, &types)) != CHAT_OK || (rv = chati_page_limit(limit, &limit)))
        return rv;
    if (user_id == NULL || *user_id == '\0')
        user_id = s->user_id;
    else if (!chati_id_valid(user_id, 'U'))
        return chati_fail(CHAT_ERR_USER_NOT_FOUND, "not a user id");
    rv = ctx->channels->list_for_member(ctx->channels_impl, user_id, types, exclude_archived,
                                        cursor && *cursor ? cursor : NULL, limit, out);
    if (rv != CHAT_OK)
        return rv;
    rv = mark_membership(ctx, s, *out);
    /* Someone else's private conversations stay hidden unless the caller is in them. */
    for (size_t i = chat_list_count(*out); rv == CHAT_OK && i-- > 0;) {
        chat_channel *c = (chat_channel *)chat_list_channel(*out, i);
        if (strcmp(c->team_id, s->team_id) != 0 ||
            (c->type != CHAT_CHANNEL_PUBLIC && !c->is_member))
            chat_channel_free(chat_list_take(*out, i));
        else if (strcmp(user_id, s->user_id) == 0)
            fill_caller_fields(ctx, s, c);
    }
    if (rv != CHAT_OK) {
        chat_list_free(*out);
        *out = NULL;
    }
    return rv;
}

chat_err chat_channel_members(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                              const char *cursor, int limit, chat_list **out)
{
    CHANNEL_COMMON(ctx, s);
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    chat_err rv = chati_page_limit(limit, &limit);
    chat_channel *c = NULL;
    if (rv == CHAT_OK)
        rv = chati_channel_visible(ctx, s, channel_id, &c, NULL);
    if (rv == CHAT_OK)
        rv = ctx->channels->list_members(ctx->channels_impl, c->id,
                                         cursor && *cursor ? cursor : NULL, limit, out);
    chat_channel_free(c);
    return rv;
}

/* Loads a channel the caller belongs to, for changes: not archived unless
 * allow_archived, and not a DM unless allow_dm. */
static chat_err load_for_change(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                                bool allow_archived, bool allow_dm, chat_channel **out)
{
    bool member = false;
    chat_channel *c = NULL;
    chat_err rv = chati_channel_visible(ctx, s, channel_id, &c, &member);
    if (rv != CHAT_OK)
        return rv;
    if (!allow_dm && is_dm(c))
        rv = chati_fail(CHAT_ERR_METHOD_NOT_SUPPORTED_FOR_CHANNEL_TYPE,
                        "not possible for direct messages");
    else if (!member)
        rv = chati_fail(CHAT_ERR_NOT_IN_CHANNEL, "you are not in this channel");
    else if (!allow_archived && c->is_archived)
        rv = chati_fail(CHAT_ERR_IS_ARCHIVED, "the channel is archived");
    if (rv != CHAT_OK) {
        chat_channel_free(c);
        return rv;
    }
    *out = c;
    return CHAT_OK;
}

chat_err chat_channel_rename(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                             const char *name, chat_channel **out)
{
    CHANNEL_COMMON(ctx, s);
    if (out)
        *out = NULL;
    chat_err rv = chati_check_channel_name(name);
    chat_channel *c = NULL;
    if (rv == CHAT_OK)
        rv = load_for_change(ctx, s, channel_id, false, false, &c);
    if (rv == CHAT_OK && c->is_general)
        rv = chati_fail(CHAT_ERR_RESTRICTED_ACTION, "the general channel keeps its name");
    if (rv == CHAT_OK && strcmp(c->name, name) != 0) {
        char *n = chat_strdup(name);
        if (n == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "name");
        else {
            chat_free(c->name);
            c->name = n;
            rv = ctx->channels->update(ctx->channels_impl, c);
            if (rv == CHAT_OK)
                publish_channel(ctx, CHAT_EVENT_CHANNEL_RENAMED, s, c, NULL);
        }
    }
    if (rv == CHAT_OK && out)
        *out = c;
    else
        chat_channel_free(c);
    return rv;
}

static chat_err set_text_field(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                               const char *value, bool topic)
{
    CHANNEL_COMMON(ctx, s);
    chat_err rv = chati_check_text(value, CHAT_MAX_TOPIC_CHARS, CHAT_ERR_TOO_LONG,
                                   topic ? "topic" : "purpose");
    chat_channel *c = NULL;
    if (rv == CHAT_OK)
        rv = load_for_change(ctx, s, channel_id, false, true, &c);
    if (rv != CHAT_OK)
        return rv;
    char *v = chat_strdup(value ? value : "");
    if (v == NULL) {
        chat_channel_free(c);
        return chati_fail(CHAT_ERR_NOMEM, "topic");
    }
    char **field = topic ? &c->topic : &c->purpose;
    chat_free(*field);
    *field = v;
    memcpy(topic ? c->topic_creator : c->purpose_creator, s->user_id, CHAT_ID_SIZE);
    *(topic ? &c->topic_last_set : &c->purpose_last_set) = chati_now_us() / 1000000;
    rv = ctx->channels->update(ctx->channels_impl, c);
    if (rv == CHAT_OK)
        publish_channel(ctx, topic ? CHAT_EVENT_CHANNEL_TOPIC : CHAT_EVENT_CHANNEL_PURPOSE, s, c,
                        NULL);
    chat_channel_free(c);
    return rv;
}

chat_err chat_channel_set_topic(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                                const char *topic)
{
    return set_text_field(ctx, s, channel_id, topic, true);
}

chat_err chat_channel_set_purpose(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                                  const char *purpose)
{
    return set_text_field(ctx, s, channel_id, purpose, false);
}

/* Archive and unarchive: the same change in opposite directions. */
static chat_err set_archived(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                             bool archived)
{
    CHANNEL_COMMON(ctx, s);
    chat_channel *c = NULL;
    chat_err rv = load_for_change(ctx, s, channel_id, true, false, &c);
    if (rv != CHAT_OK)
        return rv;
    if (archived && c->is_general)
        rv = chati_fail(CHAT_ERR_CANT_ARCHIVE_GENERAL, "the general channel stays");
    else if (c->is_archived == archived)
        rv = archived ? chati_fail(CHAT_ERR_ALREADY_ARCHIVED, "already archived")
                      : chati_fail(CHAT_ERR_NOT_ARCHIVED, "the channel is not archived");
    else {
        c->is_archived = archived;
        rv = ctx->channels->update(ctx->channels_impl, c);
        if (rv == CHAT_OK)
            publish_channel(ctx,
                            archived ? CHAT_EVENT_CHANNEL_ARCHIVED : CHAT_EVENT_CHANNEL_UNARCHIVED,
                            s, c, NULL);
    }
    chat_channel_free(c);
    return rv;
}

chat_err chat_channel_archive(chat_ctx *ctx, const chat_session *s, const char *channel_id)
{
    return set_archived(ctx, s, channel_id, true);
}

chat_err chat_channel_unarchive(chat_ctx *ctx, const chat_session *s, const char *channel_id)
{
    return set_archived(ctx, s, channel_id, false);
}

chat_err chat_channel_join(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                           bool *already)
{
    CHANNEL_COMMON(ctx, s);
    bool member = false;
    chat_channel *c = NULL;
    chat_err rv = chati_channel_visible(ctx, s, channel_id, &c, &member);
    if (rv != CHAT_OK)
        return rv;
    if (already)
        *already = member;
    if (is_dm(c))
        rv = chati_fail(CHAT_ERR_METHOD_NOT_SUPPORTED_FOR_CHANNEL_TYPE, "use open for DMs");
    else if (c->is_archived)
        rv = chati_fail(CHAT_ERR_IS_ARCHIVED, "the channel is archived");
    else if (!member) {
        size_t added = 0;
        rv = ctx->channels->add_members(ctx->channels_impl, c->id,
                                        (const char(*)[CHAT_ID_SIZE])s->user_id, 1, &added);
        if (rv == CHAT_OK && added)
            publish_channel(ctx, CHAT_EVENT_MEMBER_JOINED, s, c, s->user_id);
    }
    chat_channel_free(c);
    return rv;
}

chat_err chat_channel_leave(chat_ctx *ctx, const chat_session *s, const char *channel_id)
{
    CHANNEL_COMMON(ctx, s);
    chat_channel *c = NULL;
    chat_err rv = load_for_change(ctx, s, channel_id, false, false, &c);
    if (rv != CHAT_OK)
        return rv;
    if (c->is_general)
        rv = chati_fail(CHAT_ERR_CANT_LEAVE_GENERAL, "everyone stays in general");
    else
        rv = ctx->channels->remove_member(ctx->channels_impl, c->id, s->user_id);
    if (rv == CHAT_OK)
        publish_channel(ctx, CHAT_EVENT_MEMBER_LEFT, s, c, s->user_id);
    chat_channel_free(c);
    return rv;
}

/* Checks that a user exists in the caller's workspace and is active. */
static chat_err check_team_user(chat_ctx *ctx, const chat_session *s, const char *user_id)
{
    if (!chati_id_valid(user_id, 'U'))
        return chati_fail(CHAT_ERR_USER_NOT_FOUND, "not a user id: %.30s",
                          user_id ? user_id : "(null)");
    chat_user *u = NULL;
    chat_err rv = chati_user_get(ctx, user_id, &u);
    if (chati_not_found(rv) || (rv == CHAT_OK && strcmp(u->team_id, s->team_id) != 0))
        rv = chati_fail(CHAT_ERR_USER_NOT_FOUND, "no user %s", user_id);
    else if (rv == CHAT_OK && u->deleted)
        rv = chati_fail(CHAT_ERR_USER_NOT_FOUND, "user %s is deactivated", user_id);
    chat_user_free(u);
    return rv;
}

chat_err chat_channel_invite(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                             const char *const *user_ids, size_t n)
{
    CHANNEL_COMMON(ctx, s);
    if (n == 0 || user_ids == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no users to invite");
    if (n > MAX_INVITE)
        return chati_fail(CHAT_ERR_TOO_MANY_USERS, "at most %d users at once", MAX_INVITE);
    chat_channel *c = NULL;
    chat_err rv = load_for_change(ctx, s, channel_id, false, false, &c);
    if (rv != CHAT_OK)
        return rv;
    char(*ids)[CHAT_ID_SIZE] = chat_calloc(n, sizeof *ids);
    if (ids == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "invite");
    /* Every invitee is checked before anyone is added: all or none. Existing
     * members are left out, so only real joins are announced. */
    size_t k = 0;
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        bool member = false;
        if (user_ids[i] && strcmp(user_ids[i], s->user_id) == 0)
            rv = chati_fail(CHAT_ERR_CANT_INVITE_SELF, "you are already here");
        else if ((rv = check_team_user(ctx, s, user_ids[i])) == CHAT_OK &&
                 (rv = ctx->channels->is_member(ctx->channels_impl, c->id, user_ids[i],
                                                &member)) == CHAT_OK &&
                 !member)
            memcpy(ids[k++], user_ids[i], strlen(user_ids[i]) + 1);
    }
    if (rv == CHAT_OK && k > 0)
        rv = ctx->channels->add_members(ctx->channels_impl, c->id,
                                        (const char(*)[CHAT_ID_SIZE])ids, k, NULL);
    for (size_t i = 0; rv == CHAT_OK && i < k; i++)
        publish_channel(ctx, CHAT_EVENT_MEMBER_JOINED, s, c, ids[i]);
    chat_free(ids);
    chat_channel_free(c);
    return rv;
}

chat_err chat_channel_kick(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                           const char *user_id)
{
    CHANNEL_COMMON(ctx, s);
    if (user_id && strcmp(user_id, s->user_id) == 0)
        return chati_fail(CHAT_ERR_CANT_KICK_SELF, "use leave");
    if (!chati_id_valid(user_id, 'U'))
        return chati_fail(CHAT_ERR_USER_NOT_FOUND, "not a user id");
    chat_channel *c = NULL;
    chat_err rv = load_for_change(ctx, s, channel_id, false, false, &c);
    if (rv != CHAT_OK)
        return rv;
    if (c->is_general)
        rv = chati_fail(CHAT_ERR_CANT_KICK_FROM_GENERAL, "everyone stays in general");
    else if (!s->is_admin && strcmp(c->creator, s->user_id) != 0)
        rv = chati_fail(CHAT_ERR_RESTRICTED_ACTION,
                        "only the channel's creator or an admin removes people");
    else
        rv = ctx->channels->remove_member(ctx->channels_impl, c->id, user_id);
    if (rv == CHAT_OK)
        publish_channel(ctx, CHAT_EVENT_MEMBER_LEFT, s, c, user_id);
    chat_channel_free(c);
    return rv;
}

static int cmp_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

chat_err chat_channel_open_dm(chat_ctx *ctx, const chat_session *s, const char *const *user_ids,
                              size_t n, chat_channel **out)
{
    CHANNEL_COMMON(ctx, s);
    if (out)
        *out = NULL;
    if (n == 0 || user_ids == NULL)
        return chati_fail(CHAT_ERR_USERS_NOT_FOUND, "no users given");
    if (n >= MAX_MPIM_MEMBERS)
        return chati_fail(CHAT_ERR_TOO_MANY_USERS, "a group DM has at most %d people",
                          MAX_MPIM_MEMBERS);
    char members[MAX_MPIM_MEMBERS][CHAT_ID_SIZE];
    size_t m = 0;
    memcpy(members[m++], s->user_id, CHAT_ID_SIZE);
    chat_err rv = CHAT_OK;
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        if ((rv = check_team_user(ctx, s, user_ids[i])) != CHAT_OK)
            break;
        bool dup = false;
        for (size_t j = 0; j < m; j++)
            dup = dup || strcmp(members[j], user_ids[i]) == 0;
        if (!dup)
            memcpy(members[m++], user_ids[i], strlen(user_ids[i]) + 1);
    }
    if (rv != CHAT_OK)
        return rv;
    qsort(members, m, CHAT_ID_SIZE, cmp_ids);
    char key[MAX_MPIM_MEMBERS * CHAT_ID_SIZE] = "";
    for (size_t i = 0; i < m; i++) {
        if (i)
            strcat(key, ",");
        strcat(key, members[i]);
    }
    chat_channel *c = NULL;
    rv = ctx->channels->get_by_dm_key(ctx->channels_impl, s->team_id, key, &c);
    if (chati_not_found(rv)) {
        c = chat_channel_new();
        rv = c ? chati_id_new(m <= 2 ? 'D' : 'G', c->id) : chati_fail(CHAT_ERR_NOMEM, "dm");
        if (rv == CHAT_OK) {
            memcpy(c->team_id, s->team_id, CHAT_ID_SIZE);
            memcpy(c->creator, s->user_id, CHAT_ID_SIZE);
            c->type = m <= 2 ? CHAT_CHANNEL_IM : CHAT_CHANNEL_MPIM;
            c->created = chati_now_us() / 1000000;
            c->name = chat_strdup(c->id);
            c->dm_key = chat_strdup(key);
            c->member_count = (int64_t)m;
            chat_channel *existing = NULL;
            rv = c->name && c->dm_key
                     ? ctx->channels->create(ctx->channels_impl, c,
                                             (const char(*)[CHAT_ID_SIZE])members, m, &existing)
                     : chati_fail(CHAT_ERR_NOMEM, "dm");
            if (rv == CHAT_ERR_DUPLICATE && existing) {
                /* Opened concurrently by someone else: theirs is the one. */
                chat_channel_free(c);
                c = existing;
                rv = CHAT_OK;
            } else if (rv == CHAT_OK) {
                publish_channel(ctx, CHAT_EVENT_CHANNEL_CREATED, s, c, NULL);
            }
        }
    }
    if (rv == CHAT_OK) {
        c->is_member = true;
        fill_caller_fields(ctx, s, c);
    }
    if (rv == CHAT_OK && out)
        *out = c;
    else
        chat_channel_free(c);
    return rv;
}

chat_err chat_channel_mark(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                           const char *ts)
{
    CHANNEL_COMMON(ctx, s);
    int64_t us;
    if (ts == NULL || !chati_ts_parse(ts, &us))
        return chati_fail(CHAT_ERR_INVALID_TS, "mark needs a message timestamp");
    char norm[CHAT_TS_SIZE];
    chati_ts_format(us, norm);
    chat_channel *c = NULL;
    chat_err rv = load_for_change(ctx, s, channel_id, true, true, &c);
    if (rv == CHAT_OK)
        rv = chati_set_read_marker(ctx, s, c->id, norm);
    if (rv == CHAT_OK) {
        chat_event *ev = chati_event_new(CHAT_EVENT_CHANNEL_MARKED);
        if (ev) {
            memcpy(ev->team_id, s->team_id, CHAT_ID_SIZE);
            memcpy(ev->channel_id, c->id, CHAT_ID_SIZE);
            memcpy(ev->user_id, s->user_id, CHAT_ID_SIZE);
            memcpy(ev->item_ts, norm, CHAT_TS_SIZE);
            chati_publish(ctx, ev);
            chati_event_free(ev);
        }
    }
    chat_channel_free(c);
    return rv;
}

static bool pins_kept(const chat_ctx *ctx)
{
    return CHATI_HAS(ctx->channels, add_pin, CHAT_STORE_V6) && ctx->channels->remove_pin &&
           ctx->channels->list_pins;
}

static chat_err pin_local(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                          const char *ts, bool on)
{
    CHATI_REQUIRE(ctx, channels, "channel");
    if (!pins_kept(ctx))
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "this channel store keeps no pins");
    if (!on) {
        chat_err rv = ctx->channels->remove_pin(ctx->channels_impl, channel_id, ts);
        return chati_not_found(rv) ? chati_fail(CHAT_ERR_NO_PIN, "%.30s is not pinned", ts) : rv;
    }
    chat_pin p;
    memset(&p, 0, sizeof p);
    if (!chati_copy_fixed(p.channel, sizeof p.channel, channel_id) ||
        !chati_copy_fixed(p.ts, sizeof p.ts, ts) ||
        !chati_copy_fixed(p.user, sizeof p.user, s->user_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a channel, a ts and a user");
    p.created = chati_now_ms() / 1000;
    chat_err rv = ctx->channels->add_pin(ctx->channels_impl, &p, CHATI_MAX_PINS);
    return rv == CHAT_ERR_DUPLICATE ? chati_fail(CHAT_ERR_ALREADY_PINNED, "pinned already") : rv;
}

static chat_err pins_local(chat_ctx *ctx, const char *channel_id, chat_pin **out, size_t *n)
{
    CHATI_REQUIRE(ctx, channels, "channel");
    if (!pins_kept(ctx))
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "this channel store keeps no pins");
    return ctx->channels->list_pins(ctx->channels_impl, channel_id, out, n);
}

const chati_channel_peer chati_channel_peer_local = {channel_visible_local,
                                                     readable_channels_local,
                                                     join_general_local, pin_local, pins_local};
