/* Handlers of usergroups.* (domain/usergroups.c). */
#include <string.h>

#include "api.pb-c.h"
#include "domain/ctx.h"
#include "api/convert.h"
#include "api/handlers.h"
#include "api/method.h"

/* Splits a comma-separated list into a repeated string field. */
static chat_err csv_field(const char *csv, char ***out, size_t *n)
{
    size_t k = 0;
    for (const char *p = csv ? csv : ""; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ','))
        k++;
    *n = 0;
    if (k == 0)
        return CHAT_OK;
    if ((*out = chat_calloc(k, sizeof **out)) == NULL)
        return CHAT_ERR_NOMEM;
    for (const char *p = csv; *p && *n < k;) {
        size_t len = strcspn(p, ",");
        if (((*out)[*n] = chat_strndup(p, len)) == NULL)
            return CHAT_ERR_NOMEM;
        (*n)++;
        p += len + (p[len] == ',');
    }
    return CHAT_OK;
}

static Chat__Api__Usergroup *api_group(const chat_usergroup *g, bool users, bool count)
{
    Chat__Api__Usergroup *r =
        (Chat__Api__Usergroup *)chati_pb_new(&chat__api__usergroup__descriptor);
    Chat__Api__UsergroupPrefs *p =
        r ? (Chat__Api__UsergroupPrefs *)chati_pb_new(&chat__api__usergroup_prefs__descriptor)
          : NULL;
    if (r == NULL || p == NULL) {
        if (r)
            protobuf_c_message_free_unpacked(&r->base, NULL);
        return NULL;
    }
    r->prefs = p;
    r->is_usergroup = r->is_subteam = true;
    r->date_create = g->created;
    r->date_update = g->updated;
    r->date_delete = g->disabled;
    char **members = NULL;
    size_t n_members = 0;
    chat_err rv = csv_field(g->users, &members, &n_members);
    if (rv == CHAT_OK && count)
        r->user_count = (int64_t)n_members;
    if (rv == CHAT_OK && users) {
        r->users = members;
        r->n_users = n_members;
        members = NULL;
    }
    for (size_t i = 0; members && i < n_members; i++)
        chat_free(members[i]);
    chat_free(members);
    if (rv != CHAT_OK || chati_pb_str(&r->id, g->id) || chati_pb_str(&r->team_id, g->team_id) ||
        chati_pb_str(&r->name, g->name) || chati_pb_str(&r->handle, g->handle) ||
        chati_pb_str(&r->description, g->description ? g->description : "") ||
        chati_pb_str(&r->created_by, g->created_by) ||
        chati_pb_str(&r->updated_by, g->updated_by) ||
        (g->disabled && chati_pb_str(&r->deleted_by, g->updated_by)) ||
        csv_field(g->channels, &p->channels, &p->n_channels) != CHAT_OK) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return NULL;
    }
    return r;
}

/* The group a call returned, with its members as Slack's calls show them. */
static chat_err group_out(chat_err rv, chat_usergroup *g, bool count, ProtobufCMessage *rs)
{
    Chat__Api__UsergroupResponse *resp = (void *)rs;
    if (rv == CHAT_OK && (resp->usergroup = api_group(g, true, count)) == NULL)
        rv = CHAT_ERR_NOMEM;
    chat_usergroups_free(g, g ? 1 : 0);
    return rv;
}

chat_err chati_h_usergroups_create(chat_ctx *ctx, const chat_session *s,
                                   const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__UsergroupsCreateRequest *req = (const void *)rq;
    chat_usergroup *g = NULL;
    chat_err rv = chat_usergroup_create(ctx, s, req->name, req->handle, req->description,
                                        req->channels, &g);
    return group_out(rv, g, req->include_count, rs);
}

chat_err chati_h_usergroups_update(chat_ctx *ctx, const chat_session *s,
                                   const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__UsergroupsUpdateRequest *req = (const void *)rq;
    chat_usergroup *g = NULL;
    /* A field left out arrives as "": it stays. */
    chat_err rv = chat_usergroup_update(ctx, s, req->usergroup, req->name, req->handle,
                                        *req->description ? req->description : NULL,
                                        *req->channels ? req->channels : NULL, &g);
    return group_out(rv, g, req->include_count, rs);
}

static chat_err set_enabled(chat_ctx *ctx, const chat_session *s, const ProtobufCMessage *rq,
                            ProtobufCMessage *rs, bool enabled)
{
    const Chat__Api__UsergroupRequest *req = (const void *)rq;
    chat_usergroup *g = NULL;
    chat_err rv = chat_usergroup_set_enabled(ctx, s, req->usergroup, enabled, &g);
    return group_out(rv, g, req->include_count, rs);
}

chat_err chati_h_usergroups_disable(chat_ctx *ctx, const chat_session *s,
                                    const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    return set_enabled(ctx, s, rq, rs, false);
}

chat_err chati_h_usergroups_enable(chat_ctx *ctx, const chat_session *s,
                                   const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    return set_enabled(ctx, s, rq, rs, true);
}

chat_err chati_h_usergroups_list(chat_ctx *ctx, const chat_session *s,
                                 const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__UsergroupsListRequest *req = (const void *)rq;
    Chat__Api__UsergroupsListResponse *resp = (void *)rs;
    chat_usergroup *gs = NULL;
    size_t n = 0;
    chat_err rv = chat_usergroup_list(ctx, s, req->include_disabled, &gs, &n);
    if (rv == CHAT_OK && n &&
        (resp->usergroups = chat_calloc(n, sizeof *resp->usergroups)) == NULL)
        rv = CHAT_ERR_NOMEM;
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        if ((resp->usergroups[i] = api_group(&gs[i], req->include_users, req->include_count)) ==
            NULL)
            rv = CHAT_ERR_NOMEM;
        else
            resp->n_usergroups = i + 1;
    }
    chat_usergroups_free(gs, n);
    return rv;
}

chat_err chati_h_usergroups_users_list(chat_ctx *ctx, const chat_session *s,
                                       const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__UsergroupRequest *req = (const void *)rq;
    Chat__Api__UsergroupsUsersListResponse *resp = (void *)rs;
    chat_usergroup *gs = NULL;
    size_t n = 0;
    chat_err rv = chat_usergroup_list(ctx, s, true, &gs, &n);
    const chat_usergroup *g = NULL;
    for (size_t i = 0; rv == CHAT_OK && i < n && g == NULL; i++)
        if (strcmp(gs[i].id, req->usergroup) == 0)
            g = &gs[i];
    if (rv == CHAT_OK && (g == NULL || (g->disabled && !req->include_disabled)))
        rv = chati_fail(CHAT_ERR_NO_SUCH_SUBTEAM, "no group %.30s here", req->usergroup);
    if (rv == CHAT_OK && csv_field(g->users, &resp->users, &resp->n_users) != CHAT_OK)
        rv = CHAT_ERR_NOMEM;
    chat_usergroups_free(gs, n);
    return rv;
}

chat_err chati_h_usergroups_users_update(chat_ctx *ctx, const chat_session *s,
                                         const ProtobufCMessage *rq, ProtobufCMessage *rs)
{
    const Chat__Api__UsergroupsUsersUpdateRequest *req = (const void *)rq;
    chat_usergroup *g = NULL;
    chat_err rv = chat_usergroup_set_users(ctx, s, req->usergroup, req->users, &g);
    return group_out(rv, g, req->include_count, rs);
}
