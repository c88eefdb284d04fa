/* User groups (chat/user.h, Slack's usergroups.*): people of a workspace
 * mentioned together by a handle. The user service keeps them in its store;
 * a team has a few, so each change reads the team's groups and writes one. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "domain/ctx.h"

#define MAX_GROUPS 1000        /* per team */
#define MAX_MEMBERS 1000       /* per group */
#define MAX_NAME 255           /* characters */
#define MAX_HANDLE 80
#define MAX_DESCRIPTION 1000
#define MAX_CHANNELS 100

static bool kept(const chat_ctx *ctx)
{
    return CHATI_HAS(ctx->users, put_usergroup, CHAT_STORE_V6) && ctx->users->list_usergroups;
}

static chat_err common(chat_ctx *ctx, const chat_session *s)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, users, "user");
    chat_err rv = chati_check_session(s);
    if (rv == CHAT_OK && !kept(ctx))
        rv = chati_fail(CHAT_ERR_NOT_SUPPORTED, "this user store keeps no user groups");
    return rv;
}

static bool handle_ok(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > MAX_HANDLE)
        return false;
    for (const char *p = h; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
              *p == '.'))
            return false;
    return true;
}

/* A handle made from a name: lower-case letters and digits, '-' between. */
static void handle_of(const char *name, char out[MAX_HANDLE + 1])
{
    size_t n = 0;
    for (const char *p = name; *p && n < MAX_HANDLE; p++) {
        char c = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            out[n++] = c;
        else if (n > 0 && out[n - 1] != '-')
            out[n++] = '-';
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    out[n] = '\0';
}

/* A comma-separated list of ids with prefix(es), checked and de-duplicated
 * into *out ("" for none). */
static chat_err id_list(const char *in, const char *prefixes, size_t max, const char *what,
                        char **out)
{
    chati_buf b = {0};
    size_t n = 0;
    chat_err rv = CHAT_OK;
    chati_buf_puts(&b, "");
    for (const char *p = in ? in : ""; rv == CHAT_OK && *p;) {
        size_t len = strcspn(p, ", ");
        char id[CHAT_ID_SIZE];
        if (len >= CHAT_ID_SIZE || (len > 0 && strchr(prefixes, p[0]) == NULL))
            rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "%s: not an id", what);
        if (rv == CHAT_OK && len > 0) {
            memcpy(id, p, len);
            id[len] = '\0';
            if (!chati_id_valid(id, 0))
                rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "%s: %.30s is not an id", what, id);
            /* skip ids already in the list */
            bool seen = false;
            for (const char *q = b.data ? b.data : ""; rv == CHAT_OK && *q && !seen;) {
                size_t l = strcspn(q, ",");
                seen = l == len && memcmp(q, id, len) == 0;
                q += l + (q[l] == ',');
            }
            if (rv == CHAT_OK && !seen) {
                if (++n > max)
                    rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "%s: %zu at most", what, max);
                else
                    chati_buf_printf(&b, "%s%s", b.len ? "," : "", id);
            }
        }
        p += len;
        p += strspn(p, ", ");
    }
    if (rv == CHAT_OK && (*out = chati_buf_steal(&b)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "ids");
    chati_buf_free(&b);
    return rv;
}

static chat_err set_str(char **dst, const char *v)
{
    chat_free(*dst);
    *dst = chat_strdup(v ? v : "");
    return *dst ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "user group");
}

/* Writes g (an update of all when replacing), telling which name clashed. */
static chat_err put(chat_ctx *ctx, const chat_usergroup *g, const chat_usergroup *all,
                    size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(all[i].id, g->id) == 0)
            continue;
        /* As Slack's: "Oncall" and "oncall" are one name. */
        if (strcasecmp(all[i].name, g->name) == 0)
            return chati_fail(CHAT_ERR_NAME_ALREADY_EXISTS, "a group is named %.60s", g->name);
        if (strcasecmp(all[i].handle, g->handle) == 0)
            return chati_fail(CHAT_ERR_HANDLE_ALREADY_EXISTS, "a group has @%.60s", g->handle);
    }
    chat_err rv = ctx->users->put_usergroup(ctx->users_impl, g);
    if (rv == CHAT_ERR_DUPLICATE) /* made meanwhile */
        rv = chati_fail(CHAT_ERR_NAME_ALREADY_EXISTS, "a group has this name or handle");
    return rv;
}

/* A copy of one group (its strings duplicated) into *out. */
static chat_err copy_out(const chat_usergroup *g, chat_usergroup **out)
{
    if (out == NULL)
        return CHAT_OK;
    chat_usergroup *c = chat_calloc(1, sizeof *c);
    if (c == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "user group");
    *c = *g;
    c->name = chat_strdup(g->name);
    c->handle = chat_strdup(g->handle);
    c->description = g->description ? chat_strdup(g->description) : NULL;
    c->users = chat_strdup(g->users);
    c->channels = chat_strdup(g->channels);
    if (!c->name || !c->handle || (g->description && !c->description) || !c->users ||
        !c->channels) {
        chat_usergroups_free(c, 1);
        return chati_fail(CHAT_ERR_NOMEM, "user group");
    }
    *out = c;
    return CHAT_OK;
}

static chat_err check_parts(const char *name, const char *handle, const char *description)
{
    chat_err rv = CHAT_OK;
    if (name && (*name == '\0' ||
                 (rv = chati_check_text(name, MAX_NAME, CHAT_ERR_INVALID_ARGUMENTS, "name")) !=
                     CHAT_OK))
        return rv != CHAT_OK ? rv : chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "name is empty");
    if (handle && !handle_ok(handle))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                          "handle: up to 80 of a-z, 0-9, '-', '_' and '.'");
    if (description)
        rv = chati_check_text(description, MAX_DESCRIPTION, CHAT_ERR_INVALID_ARGUMENTS,
                              "description");
    return rv;
}

chat_err chat_usergroup_create(chat_ctx *ctx, const chat_session *s, const char *name,
                               const char *handle, const char *description,
                               const char *channels, chat_usergroup **out)
{
    chat_err rv = common(ctx, s);
    if (rv == CHAT_OK && (name == NULL || *name == '\0'))
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "name is required");
    char made[MAX_HANDLE + 1];
    if (rv == CHAT_OK && (handle == NULL || *handle == '\0')) {
        handle_of(name, made);
        if (made[0] == '\0') { /* a name of no ASCII letter or digit: "group-" and randomness */
            char id[CHAT_ID_SIZE];
            if ((rv = chati_id_new('S', id)) == CHAT_OK) {
                chati_ascii_lower(id);
                snprintf(made, sizeof made, "group-%.8s", id + 1);
            }
        }
        handle = made;
    }
    if (rv == CHAT_OK)
        rv = check_parts(name, handle, description);
    chat_usergroup *all = NULL;
    size_t n = 0;
    if (rv == CHAT_OK)
        rv = ctx->users->list_usergroups(ctx->users_impl, s->team_id, &all, &n);
    if (rv == CHAT_OK && n >= MAX_GROUPS)
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "%d groups at most", MAX_GROUPS);
    chat_usergroup g;
    memset(&g, 0, sizeof g);
    if (rv == CHAT_OK)
        rv = chati_id_new('S', g.id);
    if (rv == CHAT_OK) {
        memcpy(g.team_id, s->team_id, CHAT_ID_SIZE);
        memcpy(g.created_by, s->user_id, CHAT_ID_SIZE);
        memcpy(g.updated_by, s->user_id, CHAT_ID_SIZE);
        g.created = g.updated = chati_now_ms() / 1000;
        if ((rv = set_str(&g.name, name)) == CHAT_OK && (rv = set_str(&g.handle, handle)) == CHAT_OK &&
            (rv = set_str(&g.users, "")) == CHAT_OK)
            rv = id_list(channels, "CG", MAX_CHANNELS, "channels", &g.channels);
        if (rv == CHAT_OK && description && *description)
            rv = set_str(&g.description, description);
    }
    if (rv == CHAT_OK)
        rv = put(ctx, &g, all, n);
    if (rv == CHAT_OK)
        rv = copy_out(&g, out);
    chat_free(g.name);
    chat_free(g.handle);
    chat_free(g.description);
    chat_free(g.users);
    chat_free(g.channels);
    chat_usergroups_free(all, n);
    return rv;
}

/* The team's groups and the index of id among them. */
static chat_err load(chat_ctx *ctx, const chat_session *s, const char *id, chat_usergroup **all,
                     size_t *n, size_t *at)
{
    chat_err rv = common(ctx, s);
    if (rv == CHAT_OK)
        rv = ctx->users->list_usergroups(ctx->users_impl, s->team_id, all, n);
    for (*at = 0; rv == CHAT_OK && *at < *n; (*at)++)
        if (id && strcmp((*all)[*at].id, id) == 0)
            return CHAT_OK;
    return rv == CHAT_OK ? chati_fail(CHAT_ERR_NO_SUCH_SUBTEAM, "no group %.30s here",
                                      id ? id : "")
                         : rv;
}

/* Applies a change to the group id and writes it. */
typedef chat_err (*change_fn)(chat_ctx *ctx, const chat_session *s, chat_usergroup *g,
                              const void *arg);

static chat_err change(chat_ctx *ctx, const chat_session *s, const char *id, change_fn fn,
                       const void *arg, chat_usergroup **out)
{
    chat_usergroup *all = NULL;
    size_t n = 0, at = 0;
    chat_err rv = load(ctx, s, id, &all, &n, &at);
    if (rv == CHAT_OK)
        rv = fn(ctx, s, &all[at], arg);
    if (rv == CHAT_OK) {
        memcpy(all[at].updated_by, s->user_id, CHAT_ID_SIZE);
        all[at].updated = chati_now_ms() / 1000;
        rv = put(ctx, &all[at], all, n);
    }
    if (rv == CHAT_OK)
        rv = copy_out(&all[at], out);
    chat_usergroups_free(all, n);
    return rv;
}

typedef struct update_args {
    const char *name, *handle, *description, *channels;
} update_args;

static chat_err apply_update(chat_ctx *ctx, const chat_session *s, chat_usergroup *g,
                             const void *arg)
{
    CHATI_UNUSED(ctx);
    CHATI_UNUSED(s);
    const update_args *a = arg;
    const char *name = a->name && *a->name ? a->name : NULL;
    const char *handle = a->handle && *a->handle ? a->handle : NULL;
    chat_err rv = check_parts(name, handle, a->description);
    if (rv == CHAT_OK && name)
        rv = set_str(&g->name, name);
    if (rv == CHAT_OK && handle)
        rv = set_str(&g->handle, handle);
    if (rv == CHAT_OK && a->description) {
        chat_free(g->description);
        g->description = NULL;
        if (*a->description)
            rv = set_str(&g->description, a->description);
    }
    if (rv == CHAT_OK && a->channels) {
        char *c = NULL;
        if ((rv = id_list(a->channels, "CG", MAX_CHANNELS, "channels", &c)) == CHAT_OK) {
            chat_free(g->channels);
            g->channels = c;
        }
    }
    return rv;
}

chat_err chat_usergroup_update(chat_ctx *ctx, const chat_session *s, const char *id,
                               const char *name, const char *handle, const char *description,
                               const char *channels, chat_usergroup **out)
{
    update_args a = {name, handle, description, channels};
    return change(ctx, s, id, apply_update, &a, out);
}

static chat_err apply_enabled(chat_ctx *ctx, const chat_session *s, chat_usergroup *g,
                              const void *arg)
{
    CHATI_UNUSED(ctx);
    CHATI_UNUSED(s);
    bool enable = *(const bool *)arg;
    if (enable && g->disabled == 0)
        return chati_fail(CHAT_ERR_ALREADY_ENABLED, "the group is enabled");
    if (!enable && g->disabled != 0)
        return chati_fail(CHAT_ERR_ALREADY_DISABLED, "the group is disabled");
    g->disabled = enable ? 0 : chati_now_ms() / 1000;
    return CHAT_OK;
}

chat_err chat_usergroup_set_enabled(chat_ctx *ctx, const chat_session *s, const char *id,
                                    bool enabled, chat_usergroup **out)
{
    return change(ctx, s, id, apply_enabled, &enabled, out);
}

static chat_err apply_users(chat_ctx *ctx, const chat_session *s, chat_usergroup *g,
                            const void *arg)
{
    char *users = NULL;
    chat_err rv = id_list(arg, "UW", MAX_MEMBERS, "users", &users);
    if (rv == CHAT_OK && *users == '\0')
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "users: one at least");
    /* Each a person (or bot) of the workspace. */
    for (const char *p = users; rv == CHAT_OK && p && *p;) {
        size_t len = strcspn(p, ",");
        char id[CHAT_ID_SIZE];
        memcpy(id, p, len);
        id[len] = '\0';
        chat_user *u = NULL;
        rv = ctx->users->get_user(ctx->users_impl, id, &u);
        if (chati_not_found(rv) || (rv == CHAT_OK && (strcmp(u->team_id, s->team_id) != 0 ||
                                                      u->deleted)))
            rv = chati_fail(CHAT_ERR_INVALID_USERS, "%.30s is no one here", id);
        chat_user_free(u);
        p += len + (p[len] == ',');
    }
    if (rv == CHAT_OK) {
        chat_free(g->users);
        g->users = users;
        users = NULL;
    }
    chat_free(users);
    return rv;
}

chat_err chat_usergroup_set_users(chat_ctx *ctx, const chat_session *s, const char *id,
                                  const char *users, chat_usergroup **out)
{
    return change(ctx, s, id, apply_users, users ? users : "", out);
}

chat_err chat_usergroup_list(chat_ctx *ctx, const chat_session *s, bool include_disabled,
                             chat_usergroup **out, size_t *n)
{
    chat_err rv = common(ctx, s);
    if (rv == CHAT_OK && (out == NULL || n == NULL))
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out and n are required");
    if (rv != CHAT_OK)
        return rv;
    rv = ctx->users->list_usergroups(ctx->users_impl, s->team_id, out, n);
    if (rv == CHAT_OK && !include_disabled) {
        size_t k = 0;
        for (size_t i = 0; i < *n; i++) {
            if ((*out)[i].disabled != 0) {
                chat_usergroup *g = &(*out)[i];
                chat_free(g->name);
                chat_free(g->handle);
                chat_free(g->description);
                chat_free(g->users);
                chat_free(g->channels);
                continue;
            }
            (*out)[k++] = (*out)[i];
        }
        *n = k;
    }
    return rv;
}
