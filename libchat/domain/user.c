/* Workspaces, users and profiles. */
#include <stdio.h>
#include <string.h>

#include "domain/ctx.h"

#define USER_COMMON(ctx, s)                                                              \
    do {                                                                                 \
        chati_clear_errmsg();                                                            \
        CHATI_REQUIRE(ctx, users, "user");                                               \
        chat_err rv_ = chati_check_session(s);                                           \
        if (rv_ != CHAT_OK)                                                              \
            return rv_;                                                                  \
    } while (0)

chat_err chati_team_create(chat_ctx *ctx, const char *name, const char *domain, chat_team **out)
{
    chat_team *t = chat_team_new();
    chat_err rv = t ? chati_id_new('T', t->id) : chati_fail(CHAT_ERR_NOMEM, "team");
    if (rv == CHAT_OK) {
        t->name = chat_strdup(name);
        t->domain = chat_strdup(domain);
        t->created = chati_now_us() / 1000000;
        rv = t->name && t->domain ? ctx->users->create_team(ctx->users_impl, t)
                                  : chati_fail(CHAT_ERR_NOMEM, "team");
    }
    if (rv == CHAT_OK && out)
        *out = t;
    else
        chat_team_free(t);
    return rv;
}

/* Creates u under a unique handle made from the email's local part: "ada",
 * then "ada2", ... */
static chat_err create_user_named(chat_ctx *ctx, chat_user *u, const char *email)
{
    char base[48];
    size_t n = strcspn(email, "@"), j = 0;
    for (size_t i = 0; i < n && j < 40; i++) {
        char c = email[i];
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
            base[j++] = c;
    }
    base[j] = '\0';
    if (j == 0)
        strcpy(base, "user");
    chat_err rv = CHAT_ERR_NAME_TAKEN;
    for (int attempt = 1; rv == CHAT_ERR_NAME_TAKEN && attempt < 1000; attempt++) {
        char name[64];
        if (attempt == 1)
            snprintf(name, sizeof name, "%s", base);
        else
            snprintf(name, sizeof name, "%s%d", base, attempt);
        chat_free(u->name);
        if ((u->name = chat_strdup(name)) == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "user name");
        rv = ctx->users->create_user(ctx->users_impl, u);
    }
    return rv;
}

/* user.changed or user.joined, carrying the user. */
static void publish_user(chat_ctx *ctx, chat_event_type type, const chat_user *u)
{
    chat_event *ev = chati_event_new(type);
    if (ev == NULL)
        return;
    memcpy(ev->team_id, u->team_id, CHAT_ID_SIZE);
    memcpy(ev->user_id, u->id, CHAT_ID_SIZE);
    memcpy(ev->target_user, u->id, CHAT_ID_SIZE);
    ev->user = chat_user_dup(u);
    chati_publish(ctx, ev);
    chati_event_free(ev);
}

static chat_err create_profile_local(chat_ctx *ctx, const char *user_id, const char *email,
                                    const char *real_name, const char *team_domain,
                                    chat_user **out)
{
    if (team_domain && *team_domain == '\0')
        team_domain = NULL;
    chat_team *team = NULL;
    chat_user *u = NULL;
    chat_err rv = ctx->users->get_team_by_domain(ctx->users_impl, team_domain, &team);
    if (chati_not_found(rv))
        rv = chati_fail(CHAT_ERR_TEAM_NOT_FOUND, "no workspace \"%s\"",
                        team_domain ? team_domain : "(default)");
    if (rv == CHAT_OK && (u = chat_user_new()) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "user");
    if (rv == CHAT_OK && !chati_copy_fixed(u->id, CHAT_ID_SIZE, user_id))
        rv = chati_fail(CHAT_ERR_INVALID_ID, "bad user id");
    if (rv == CHAT_OK) {
        /* The first person in a workspace owns it. */
        chat_list *first = NULL;
        rv = ctx->users->list_users(ctx->users_impl, team->id, NULL, 1, &first);
        u->is_admin = rv == CHAT_OK && chat_list_count(first) == 0;
        chat_list_free(first);
    }
    if (rv == CHAT_OK) {
        memcpy(u->team_id, team->id, CHAT_ID_SIZE);
        u->email = chat_strdup(email);
        u->real_name = chat_strdup(real_name ? real_name : "");
        u->created = u->updated = chati_now_us() / 1000000;
        rv = u->email && u->real_name ? create_user_named(ctx, u, email)
                                      : chati_fail(CHAT_ERR_NOMEM, "user");
        if (rv == CHAT_OK)
            publish_user(ctx, CHAT_EVENT_USER_JOINED, u);
    }
    if (rv == CHAT_OK && out) {
        *out = u;
        u = NULL;
    }
    chat_user_free(u);
    chat_team_free(team);
    return rv;
}

static chat_err read_state_local(chat_ctx *ctx, const chat_session *s, chat_channel *c)
{
    chat_err rv = ctx->users->get_read_marker(ctx->users_impl, s->user_id, c->id, c->last_read);
    c->unread_count = c->mention_count = 0;
    if (rv == CHAT_OK && CHATI_HAS(ctx->users, counts, CHAT_STORE_V1))
        rv = ctx->users->counts(ctx->users_impl, s->user_id, c->id, &c->unread_count,
                                &c->mention_count);
    return rv;
}

chat_err chat_team_info(chat_ctx *ctx, const chat_session *s, chat_team **out)
{
    USER_COMMON(ctx, s);
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    chat_err rv = ctx->users->get_team(ctx->users_impl, s->team_id, out);
    return chati_not_found(rv) ? chati_fail(CHAT_ERR_TEAM_NOT_FOUND, "no workspace") : rv;
}

/* A user of the caller's workspace, or user_not_found. */
static chat_err get_team_user(chat_ctx *ctx, const chat_session *s, const char *user_id,
                              chat_user **out)
{
    if (!chati_id_valid(user_id, 'U'))
        return chati_fail(CHAT_ERR_USER_NOT_FOUND, "not a user id");
    chat_user *u = NULL;
    chat_err rv = ctx->users->get_user(ctx->users_impl, user_id, &u);
    if (rv == CHAT_OK && strcmp(u->team_id, s->team_id) != 0)
        rv = CHAT_ERR_NOT_FOUND;
    if (chati_not_found(rv)) {
        chat_user_free(u);
        return chati_fail(CHAT_ERR_USER_NOT_FOUND, "no user %s", user_id);
    }
    if (rv == CHAT_OK)
        *out = u;
    return rv;
}

chat_err chat_user_info(chat_ctx *ctx, const chat_session *s, const char *user_id,
                        chat_user **out)
{
    USER_COMMON(ctx, s);
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    return get_team_user(ctx, s, user_id, out);
}

chat_err chat_user_lookup_by_email(chat_ctx *ctx, const chat_session *s, const char *email,
                                   chat_user **out)
{
    USER_COMMON(ctx, s);
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    if (!chati_email_valid(email))
        return chati_fail(CHAT_ERR_USERS_NOT_FOUND, "not an email address");
    char lower[CHAT_MAX_EMAIL_CHARS + 1];
    strcpy(lower, email);
    chati_ascii_lower(lower);
    chat_err rv = ctx->users->get_user_by_email(ctx->users_impl, s->team_id, lower, out);
    return chati_not_found(rv) ? chati_fail(CHAT_ERR_USERS_NOT_FOUND, "no such user") : rv;
}

chat_err chat_user_list(chat_ctx *ctx, const chat_session *s, const char *cursor, int limit,
                        chat_list **out)
{
    USER_COMMON(ctx, s);
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    chat_err rv = chati_page_limit(limit, &limit);
    if (rv != CHAT_OK)
        return rv;
    return ctx->users->list_users(ctx->users_impl, s->team_id, cursor && *cursor ? cursor : NULL,
                                  limit, out);
}

static char **profile_field(chat_user *u, const char *key, size_t *max)
{
    static const struct {
        const char *key;
        size_t offset;
        size_t max;
    } fields[] = {
        {"real_name", offsetof(chat_user, real_name), CHAT_MAX_PROFILE_CHARS},
        {"display_name", offsetof(chat_user, display_name), CHAT_MAX_PROFILE_CHARS},
        {"title", offsetof(chat_user, title), CHAT_MAX_PROFILE_CHARS},
        {"status_text", offsetof(chat_user, status_text), 100},
        {"status_emoji", offsetof(chat_user, status_emoji), 100},
        {"tz", offsetof(chat_user, tz), 64},
    };
    for (size_t i = 0; i < CHATI_ARRAY_LEN(fields); i++) {
        if (strcmp(fields[i].key, key) == 0) {
            *max = fields[i].max;
            return (char **)((char *)u + fields[i].offset);
        }
    }
    return NULL;
}

chat_err chat_user_profile_set(chat_ctx *ctx, const chat_session *s, const char *const *keys,
                               const char *const *values, size_t n, chat_user **out)
{
    USER_COMMON(ctx, s);
    if (out)
        *out = NULL;
    if (n > 0 && (keys == NULL || values == NULL))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "keys and values are required");
    chat_user *u = NULL;
    chat_err rv = get_team_user(ctx, s, s->user_id, &u);
    /* Validate every field before changing any: all or nothing. */
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        size_t max = 0;
        char **field = keys[i] ? profile_field(u, keys[i], &max) : NULL;
        if (field == NULL) {
            rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "unknown profile field \"%.40s\"",
                            keys[i] ? keys[i] : "(null)");
            break;
        }
        rv = chati_check_text(values[i], max, CHAT_ERR_TOO_LONG, keys[i]);
        if (rv == CHAT_OK) {
            char *v = chat_strdup(values[i] ? values[i] : "");
            if (v == NULL)
                rv = chati_fail(CHAT_ERR_NOMEM, "profile");
            else {
                chat_free(*field);
                *field = v;
            }
        }
    }
    if (rv == CHAT_OK) {
        u->updated = chati_now_us() / 1000000;
        rv = ctx->users->update_user(ctx->users_impl, u);
    }
    if (rv == CHAT_OK)
        publish_user(ctx, CHAT_EVENT_USER_CHANGED, u);
    if (rv == CHAT_OK && out)
        *out = u;
    else
        chat_user_free(u);
    return rv;
}

chat_err chat_user_deactivate(chat_ctx *ctx, const chat_session *s, const char *user_id)
{
    USER_COMMON(ctx, s);
    if (!s->is_admin && (user_id == NULL || strcmp(user_id, s->user_id) != 0))
        return chati_fail(CHAT_ERR_RESTRICTED_ACTION, "only admins deactivate other users");
    chat_user *u = NULL;
    chat_err rv = get_team_user(ctx, s, user_id, &u);
    if (rv != CHAT_OK)
        return rv;
    /* Credentials first: from this moment no token of the user works. */
    rv = chati_set_active(ctx, u->id, false);
    if (rv == CHAT_OK && !u->deleted) {
        u->deleted = true;
        u->updated = chati_now_us() / 1000000;
        rv = ctx->users->update_user(ctx->users_impl, u);
        if (rv == CHAT_OK)
            publish_user(ctx, CHAT_EVENT_USER_CHANGED, u);
    }
    chat_user_free(u);
    return rv;
}

static chat_err user_get_local(chat_ctx *ctx, const char *user_id, chat_user **out)
{
    return ctx->users->get_user(ctx->users_impl, user_id, out);
}

static chat_err set_read_marker_local(chat_ctx *ctx, const chat_session *s,
                                      const char *channel_id, const char *ts)
{
    return ctx->users->set_read_marker(ctx->users_impl, s->user_id, channel_id, ts);
}

static chat_err delete_profile_local(chat_ctx *ctx, const char *user_id)
{
    return ctx->users->delete_user(ctx->users_impl, user_id);
}

static chat_err create_bot_local(chat_ctx *ctx, const chat_user *bot, chat_user **out)
{
    chat_user *u = chat_user_dup(bot);
    if (u == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "bot");
    /* The handle: the name in lower case, words joined by '-'. */
    char base[48];
    size_t j = 0;
    for (const char *p = bot->real_name ? bot->real_name : ""; *p && j < 40; p++) {
        char c = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')
            base[j++] = c;
        else if (c == ' ' && j > 0 && base[j - 1] != '-')
            base[j++] = '-';
    }
    base[j] = '\0';
    chat_free(u->email);
    u->email = NULL;
    u->is_admin = false;
    u->created = u->updated = chati_now_us() / 1000000;
    chat_err rv = create_user_named(ctx, u, j ? base : "bot");
    if (rv == CHAT_OK)
        publish_user(ctx, CHAT_EVENT_USER_JOINED, u);
    if (rv == CHAT_OK && out)
        *out = u;
    else
        chat_user_free(u);
    return rv;
}

const chati_user_peer chati_user_peer_local = {user_get_local, read_state_local,
                                               set_read_marker_local, create_profile_local,
                                               delete_profile_local, create_bot_local};
