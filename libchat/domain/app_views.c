/* Views apps show people (chat/app.h): a modal opened with a trigger_id
 * (views.open), pushed on another (views.push, three at most), changed
 * (views.update) and submitted; an App Home tab (views.publish). The auth
 * service keeps them; the person's clients hear each change as a
 * view.changed event, and the app hears a submission as a view_submission
 * interaction, whose acknowledgement closes, updates, pushes or shows
 * errors (chati_view_answer). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "domain/ctx.h"

#define TRIGGER_TTL_MS 30000        /* a trigger_id opens a view this long after it is made */
#define VIEW_MAX_BYTES (250 * 1024) /* Slack's limit on a view */
#define VALUES_MAX_BYTES (64 * 1024)
#define MAX_STACK 3                 /* views in one stack, as Slack */
#define MAX_VIEW_BLOCKS 100
#define TITLE_MAX 24                /* characters of a title, submit or close label */
#define METADATA_MAX 3000
#define EXTERNAL_ID_MAX 255
#define INPUT_MAX 3000              /* characters a person types into one input */
#define RETENTION_MS (24LL * 3600 * 1000)
#define ANSWER_TTL_S 300            /* the gateway answers a submission within this */

bool chati_views_kept(const chat_ctx *ctx)
{
    return ctx->auth && CHATI_HAS(ctx->auth, create_view, CHAT_STORE_V6) &&
           ctx->auth->get_view && ctx->auth->update_view && ctx->auth->drop_views;
}

/* ----------------------------------------------------------- triggers --- */

/* "<ms>.<random>.<user>.<view>.<mac>": the MAC binds the app it was made
 * for; view is the view it came from ("0" for none). */
chat_err chati_app_trigger(chat_ctx *ctx, const char *app_id, const char *user_id,
                           const char *view_id, char out[CHATI_TRIGGER_SIZE])
{
    uint8_t rnd[8];
    char hex[17], msg[128], mac[CHATI_MAC_B64_LEN + 1];
    chat_err rv = chati_random(rnd, sizeof rnd);
    if (rv != CHAT_OK)
        return rv;
    chati_hex_encode(rnd, sizeof rnd, hex);
    int len = snprintf(msg, sizeof msg, "%lld.%s.%s.%s|%s", (long long)chati_now_ms(), hex,
                       user_id, view_id && *view_id ? view_id : "0", app_id);
    if (len <= 0 || len >= (int)sizeof msg)
        return chati_fail(CHAT_ERR_INTERNAL, "trigger");
    if ((rv = chati_ctx_mac(ctx, "trigger", msg, (size_t)len, mac)) != CHAT_OK)
        return rv;
    *strchr(msg, '|') = '\0';
    if (snprintf(out, CHATI_TRIGGER_SIZE, "%s.%s", msg, mac) >= CHATI_TRIGGER_SIZE)
        return chati_fail(CHAT_ERR_INTERNAL, "trigger");
    return CHAT_OK;
}

/* The person (and the view, "" for none) of a trigger made for s's app
 * (by its app id, or by its bot's id where only that was known). */
static chat_err trigger_check(chat_ctx *ctx, const char *trigger, const chat_session *s,
                              char user[CHAT_ID_SIZE], char view[CHAT_ID_SIZE])
{
    char f[5][CHATI_MAC_B64_LEN + 1];
    const char *p = trigger ? trigger : "";
    for (int i = 0; i < 5; i++) {
        size_t len = strcspn(p, ".");
        if (len == 0 || len > CHATI_MAC_B64_LEN || (i < 4 && p[len] != '.') ||
            (i == 4 && p[len] != '\0'))
            return chati_fail(CHAT_ERR_INVALID_TRIGGER_ID, "not a trigger_id");
        memcpy(f[i], p, len);
        f[i][len] = '\0';
        p += len + (i < 4);
    }
    bool ok = false;
    const char *apps[] = {s->app_id, s->bot_id};
    for (int i = 0; i < 2 && !ok && apps[i][0]; i++) {
        char msg[4 * (CHATI_MAC_B64_LEN + 1) + CHAT_ID_SIZE + 1], want[CHATI_MAC_B64_LEN + 1];
        int len = snprintf(msg, sizeof msg, "%s.%s.%s.%s|%s", f[0], f[1], f[2], f[3], apps[i]);
        if (len < 0 || len >= (int)sizeof msg)
            return chati_fail(CHAT_ERR_INVALID_TRIGGER_ID, "not a trigger_id");
        chat_err rv = chati_ctx_mac(ctx, "trigger", msg, (size_t)len, want);
        if (rv != CHAT_OK)
            return rv;
        ok = strlen(f[4]) == CHATI_MAC_B64_LEN &&
             chati_consttime_eq(want, f[4], CHATI_MAC_B64_LEN);
    }
    if (!ok)
        return chati_fail(CHAT_ERR_INVALID_TRIGGER_ID, "not a trigger_id of this app");
    if (strtoll(f[0], NULL, 10) + TRIGGER_TTL_MS < chati_now_ms())
        return chati_fail(CHAT_ERR_EXPIRED_TRIGGER_ID, "the trigger_id has expired");
    if (!chati_copy_fixed(user, CHAT_ID_SIZE, f[2]) ||
        !chati_copy_fixed(view, CHAT_ID_SIZE, strcmp(f[3], "0") == 0 ? "" : f[3]))
        return chati_fail(CHAT_ERR_INVALID_TRIGGER_ID, "not a trigger_id");
    return CHAT_OK;
}

/* -------------------------------------------------------------- views --- */

/* Characters of UTF-8 text; SIZE_MAX for what is not UTF-8. */
static size_t chars_of(const char *s)
{
    size_t n = 0;
    return s && chati_utf8_valid(s, strlen(s), &n) ? n : SIZE_MAX;
}

static const char *str_of(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* A plain_text object of up to max characters; required or absent. */
static chat_err text_object(const json_t *v, const char *what, bool required, size_t max)
{
    if (v == NULL && !required)
        return CHAT_OK;
    const char *t = str_of(v, "text");
    if (!json_is_object(v) || t == NULL || *t == '\0' || chars_of(t) > max)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "%s must be plain_text of 1 to %zu "
                                                       "characters", what, max);
    return CHAT_OK;
}

static void random_id(char *out, size_t n)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t rnd[16];
    if (chati_random(rnd, sizeof rnd) != CHAT_OK)
        memset(rnd, 0, sizeof rnd);
    for (size_t i = 0; i + 1 < n && i < sizeof rnd; i++)
        out[i] = alnum[rnd[i] % (sizeof alnum - 1)];
    out[n - 1] = '\0';
}

/* The app's view as libchat keeps it: its known members, checked, and a
 * block_id on every block and an action_id on every input's element (so
 * what the person enters has a place in state.values). type: "modal" or
 * "home". *external_id borrows from *out. */
static chat_err normal_view(const char *json, const char *type, const char *bot_id,
                            json_t **out, const char **external_id)
{
    *out = NULL;
    *external_id = NULL;
    if (json == NULL || *json == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a view is required");
    if (strlen(json) > VIEW_MAX_BYTES)
        return chati_fail(CHAT_ERR_VIEW_TOO_LARGE, "a view is 250 KB at most");
    json_error_t e;
    json_t *in = json_loads(json, JSON_REJECT_DUPLICATES, &e);
    chat_err rv = json_is_object(in) ? CHAT_OK
                                     : chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                                                  "the view is not a JSON object");
    const char *t = str_of(in, "type");
    if (rv == CHAT_OK && (t == NULL || strcmp(t, type) != 0))
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "the view's type must be %s", type);
    bool modal = strcmp(type, "modal") == 0;
    if (rv == CHAT_OK && modal)
        rv = text_object(json_object_get(in, "title"), "title", true, TITLE_MAX);
    if (rv == CHAT_OK && modal)
        rv = text_object(json_object_get(in, "submit"), "submit", false, TITLE_MAX);
    if (rv == CHAT_OK && modal)
        rv = text_object(json_object_get(in, "close"), "close", false, TITLE_MAX);
    json_t *blocks = json_object_get(in, "blocks");
    if (rv == CHAT_OK && (!json_is_array(blocks) || json_array_size(blocks) > MAX_VIEW_BLOCKS))
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "blocks must be an array of up to 100");
    static const struct {
        const char *key;
        size_t max;
    } strs[] = {{"private_metadata", METADATA_MAX},
                {"callback_id", 255},
                {"external_id", EXTERNAL_ID_MAX}};
    for (size_t i = 0; rv == CHAT_OK && i < CHATI_ARRAY_LEN(strs); i++) {
        const json_t *s = json_object_get(in, strs[i].key);
        if (s && (!json_is_string(s) || chars_of(json_string_value(s)) > strs[i].max))
            rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "%s must be a string of up to %zu "
                                                        "characters", strs[i].key, strs[i].max);
    }
    size_t i;
    json_t *b;
    bool inputs = false;
    json_array_foreach(rv == CHAT_OK ? blocks : NULL, i, b)
    {
        const char *bt = str_of(b, "type");
        if (!json_is_object(b) || bt == NULL) {
            rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "block %zu has no type", i);
            break;
        }
        const json_t *bid = json_object_get(b, "block_id");
        if (bid && (!json_is_string(bid) || json_string_length(bid) == 0 ||
                    json_string_length(bid) > 255)) {
            rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "block %zu: a bad block_id", i);
            break;
        }
        for (size_t j = 0; bid && j < i; j++) {
            const char *o = str_of(json_array_get(blocks, j), "block_id");
            if (o && strcmp(o, json_string_value(bid)) == 0) {
                rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "block_id %.40s is used twice", o);
                break;
            }
        }
        if (rv != CHAT_OK)
            break;
        char id[8];
        if (bid == NULL) {
            random_id(id, sizeof id);
            json_object_set_new(b, "block_id", json_string(id));
        }
        if (strcmp(bt, "input") == 0) {
            inputs = true;
            json_t *el = json_object_get(b, "element");
            if (!json_is_object(el) || str_of(el, "type") == NULL) {
                rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "input block %zu has no element", i);
                break;
            }
            if ((rv = text_object(json_object_get(b, "label"), "an input's label", true,
                                  2000)) != CHAT_OK)
                break;
            if (str_of(el, "action_id") == NULL) {
                random_id(id, sizeof id);
                json_object_set_new(el, "action_id", json_string(id));
            }
        }
    }
    if (rv == CHAT_OK && modal && inputs && json_object_get(in, "submit") == NULL)
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a modal with inputs needs submit");
    if (rv == CHAT_OK) {
        static const char *const keep[] = {"type",           "title",           "blocks",
                                           "close",          "submit",          "private_metadata",
                                           "callback_id",    "clear_on_close",  "notify_on_close",
                                           "external_id",    "submit_disabled"};
        json_t *o = json_object();
        for (size_t k = 0; o && k < CHATI_ARRAY_LEN(keep); k++) {
            json_t *v = json_object_get(in, keep[k]);
            if (v)
                json_object_set(o, keep[k], v);
        }
        if (o)
            json_object_set_new(o, "bot_id", json_string(bot_id ? bot_id : ""));
        *out = o;
        *external_id = str_of(o, "external_id");
        if (*external_id && **external_id == '\0')
            *external_id = NULL;
        if (o == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "view");
    }
    json_decref(in);
    return rv;
}

/* The view as Slack returns it (views.*, view_submission, the client). */
static json_t *view_json(const chat_view *v)
{
    json_t *o = json_loads(v->body, 0, NULL);
    json_t *values = v->values ? json_loads(v->values, 0, NULL) : NULL;
    if (o == NULL) {
        json_decref(values);
        return NULL;
    }
    json_object_set_new(o, "id", json_string(v->id));
    json_object_set_new(o, "team_id", json_string(v->team_id));
    json_object_set_new(o, "app_id", json_string(v->app_id));
    json_object_set_new(o, "app_installed_team_id", json_string(v->team_id));
    json_object_set_new(o, "hash", json_string(v->hash));
    json_object_set_new(o, "root_view_id", json_string(v->root_id));
    json_object_set_new(o, "previous_view_id",
                        v->previous_id[0] ? json_string(v->previous_id) : json_null());
    json_object_set_new(o, "external_id", json_string(v->external_id ? v->external_id : ""));
    json_object_set_new(o, "state", json_pack("{s:o}", "values",
                                              values ? values : json_object()));
    static const char *const strs[] = {"private_metadata", "callback_id"};
    for (size_t i = 0; i < CHATI_ARRAY_LEN(strs); i++)
        if (json_object_get(o, strs[i]) == NULL)
            json_object_set_new(o, strs[i], json_string(""));
    static const char *const flags[] = {"clear_on_close", "notify_on_close"};
    for (size_t i = 0; i < CHATI_ARRAY_LEN(flags); i++)
        if (!json_is_boolean(json_object_get(o, flags[i])))
            json_object_set_new(o, flags[i], json_false());
    return o;
}

static char *dump(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    char *out = s ? chat_strdup(s) : NULL;
    free(s); /* jansson's allocator */
    return out;
}

/* Tells the person's clients: {"type": what, "view": ...} and more. */
static void view_event(chat_ctx *ctx, const chat_view *v, const char *what, json_t *more)
{
    chat_event *ev = chati_event_new(CHAT_EVENT_VIEW_CHANGED);
    json_t *view = view_json(v);
    if (view) /* the app's own, not the person's to read */
        json_object_del(view, "private_metadata");
    json_t *o = json_pack("{s:s, s:o*}", "type", what, "view", view);
    if (o && more)
        json_object_update(o, more);
    if (ev && o && (ev->data = dump(o)) != NULL) {
        memcpy(ev->team_id, v->team_id, CHAT_ID_SIZE);
        memcpy(ev->user_id, v->user_id, CHAT_ID_SIZE);
        memcpy(ev->target_user, v->user_id, CHAT_ID_SIZE);
        chati_publish(ctx, ev);
    }
    json_decref(o);
    chati_event_free(ev);
}

static chat_err new_hash(char hash[CHAT_ID_SIZE])
{
    uint8_t rnd[4];
    char hex[9];
    chat_err rv = chati_random(rnd, sizeof rnd);
    if (rv == CHAT_OK) {
        chati_hex_encode(rnd, sizeof rnd, hex);
        if (snprintf(hash, CHAT_ID_SIZE, "%lld.%s", (long long)(chati_now_ms() / 1000), hex) >=
            CHAT_ID_SIZE)
            rv = chati_fail(CHAT_ERR_INTERNAL, "hash");
    }
    return rv;
}

static chat_err out_json(const chat_view *v, char **out)
{
    if (out == NULL)
        return CHAT_OK;
    json_t *o = view_json(v);
    *out = dump(o);
    json_decref(o);
    return *out ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "view");
}

static chat_err app_session(chat_ctx *ctx, const chat_session *s)
{
    CHATI_REQUIRE(ctx, auth, "auth");
    chat_err rv = chati_check_session(s);
    if (rv == CHAT_OK && s->app_id[0] == '\0')
        rv = chati_fail(CHAT_ERR_NOT_ALLOWED_TOKEN_TYPE, "an app's token shows views");
    if (rv == CHAT_OK && !chati_views_kept(ctx))
        rv = chati_fail(CHAT_ERR_NOT_SUPPORTED, "this auth store keeps no views");
    return rv;
}

/* Old views go now and then: a drop at most once a minute per process. */
static void drop_old(chat_ctx *ctx)
{
    static _Atomic int64_t last;
    int64_t now = chati_now_ms(), was = last;
    if (now - was > 60000 && atomic_compare_exchange_strong(&last, &was, now))
        (void)ctx->auth->drop_views(ctx->auth_impl, now - RETENTION_MS);
}

/* Stores a new view for user (on top of under, when given) and tells them. */
static chat_err create(chat_ctx *ctx, const chat_session *s, const char *user_id,
                       const char *trigger, const chat_view *under, json_t *body,
                       const char *external_id, chat_view **out)
{
    chat_view *v = chat_view_new();
    chat_err rv = v ? chati_id_new('V', v->id) : chati_fail(CHAT_ERR_NOMEM, "view");
    if (rv == CHAT_OK && under && under->depth >= MAX_STACK)
        rv = chati_fail(CHAT_ERR_PUSH_LIMIT_REACHED, "three views are open already");
    if (rv == CHAT_OK)
        rv = new_hash(v->hash);
    if (rv == CHAT_OK) {
        memcpy(v->team_id, s->team_id, CHAT_ID_SIZE);
        memcpy(v->app_id, s->app_id, CHAT_ID_SIZE);
        chati_copy_fixed(v->user_id, CHAT_ID_SIZE, user_id);
        memcpy(v->root_id, under ? under->root_id : v->id, CHAT_ID_SIZE);
        if (under)
            memcpy(v->previous_id, under->id, CHAT_ID_SIZE);
        v->depth = under ? under->depth + 1 : 1;
        v->open = true;
        v->updated_ms = chati_now_ms();
        v->trigger = trigger ? chat_strdup(trigger) : NULL;
        v->external_id = external_id ? chat_strdup(external_id) : NULL;
        v->body = dump(body);
        if ((trigger && !v->trigger) || (external_id && !v->external_id) || !v->body)
            rv = chati_fail(CHAT_ERR_NOMEM, "view");
    }
    if (rv == CHAT_OK) {
        drop_old(ctx);
        rv = ctx->auth->create_view(ctx->auth_impl, v);
    }
    if (rv == CHAT_ERR_DUPLICATE) {
        chat_view *same = NULL;
        rv = external_id && ctx->auth->get_view(ctx->auth_impl, NULL, s->app_id, external_id,
                                                &same) == CHAT_OK
                 ? chati_fail(CHAT_ERR_DUPLICATE_EXTERNAL_ID, "external_id %.40s is in use",
                              external_id)
                 : chati_fail(CHAT_ERR_EXCHANGED_TRIGGER_ID, "the trigger_id was used");
        chat_view_free(same);
    }
    if (rv == CHAT_OK && strcmp(str_of(body, "type"), "modal") == 0)
        view_event(ctx, v, "view_opened", NULL);
    if (rv == CHAT_OK)
        *out = v;
    else
        chat_view_free(v);
    return rv;
}

/* Opens (under: NULL) or pushes a modal for the person of a trigger. */
static chat_err open_or_push(chat_ctx *ctx, const chat_session *s, const char *trigger,
                             const char *view, bool push, char **out)
{
    chati_clear_errmsg();
    chat_err rv = app_session(ctx, s);
    if (rv != CHAT_OK)
        return rv;
    char user[CHAT_ID_SIZE], from[CHAT_ID_SIZE];
    if ((rv = trigger_check(ctx, trigger, s, user, from)) != CHAT_OK)
        return rv;
    json_t *body = NULL;
    const char *external_id = NULL;
    chat_view *under = NULL, *v = NULL;
    rv = normal_view(view, "modal", s->bot_id, &body, &external_id);
    if (rv == CHAT_OK && push) {
        /* On the view the trigger came from, while it is open. */
        rv = from[0] ? ctx->auth->get_view(ctx->auth_impl, from, NULL, NULL, &under)
                     : CHAT_ERR_NOT_FOUND;
        json_t *ub = rv == CHAT_OK ? json_loads(under->body, 0, NULL) : NULL;
        bool modal = ub && str_of(ub, "type") && strcmp(str_of(ub, "type"), "modal") == 0;
        json_decref(ub);
        if (chati_not_found(rv) || (rv == CHAT_OK && (!under->open || !modal)))
            rv = chati_fail(CHAT_ERR_NOT_FOUND, "no modal to push onto");
    }
    if (rv == CHAT_OK)
        rv = create(ctx, s, user, trigger, under, body, external_id, &v);
    if (rv == CHAT_OK)
        rv = out_json(v, out);
    chat_view_free(under);
    chat_view_free(v);
    json_decref(body);
    return rv;
}

chat_err chat_view_open(chat_ctx *ctx, const chat_session *s, const char *trigger_id,
                        const char *view, char **out)
{
    return open_or_push(ctx, s, trigger_id, view, false, out);
}

chat_err chat_view_push(chat_ctx *ctx, const chat_session *s, const char *trigger_id,
                        const char *view, char **out)
{
    return open_or_push(ctx, s, trigger_id, view, true, out);
}

/* Replaces v's body (and hash) with body; tells the person when open. */
static chat_err replace(chat_ctx *ctx, chat_view *v, json_t *body, const char *external_id,
                        const char *if_hash)
{
    char *text = dump(body);
    char *ext = external_id ? chat_strdup(external_id) : NULL;
    chat_err rv = text && (!external_id || ext) ? new_hash(v->hash)
                                                : chati_fail(CHAT_ERR_NOMEM, "view");
    if (rv == CHAT_OK) {
        chat_free(v->body);
        v->body = text;
        text = NULL;
        if (external_id) {
            chat_free(v->external_id);
            v->external_id = ext;
            ext = NULL;
        }
        chat_free(v->values); /* a new view starts empty, as Slack's */
        v->values = NULL;
        v->updated_ms = chati_now_ms();
        rv = ctx->auth->update_view(ctx->auth_impl, v, if_hash);
        if (rv == CHAT_ERR_DUPLICATE)
            rv = chati_fail(CHAT_ERR_DUPLICATE_EXTERNAL_ID, "external_id %.40s is in use",
                            external_id);
    }
    if (rv == CHAT_OK && v->open)
        view_event(ctx, v, "view_updated", NULL);
    chat_free(text);
    chat_free(ext);
    return rv;
}

/* The app's view by id or external id; not_found for another app's. */
static chat_err app_view(chat_ctx *ctx, const chat_session *s, const char *view_id,
                         const char *external_id, chat_view **out)
{
    chat_err rv;
    if (view_id && *view_id)
        rv = ctx->auth->get_view(ctx->auth_impl, view_id, NULL, NULL, out);
    else if (external_id && *external_id)
        rv = ctx->auth->get_view(ctx->auth_impl, NULL, s->app_id, external_id, out);
    else
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "view_id or external_id is required");
    if (rv == CHAT_OK && strcmp((*out)->app_id, s->app_id) != 0) {
        chat_view_free(*out);
        *out = NULL;
        rv = CHAT_ERR_NOT_FOUND;
    }
    if (chati_not_found(rv) || rv == CHAT_ERR_INVALID_ARGUMENTS)
        rv = chati_fail(CHAT_ERR_NOT_FOUND, "no view %.40s", view_id && *view_id ? view_id
                                                                                 : external_id);
    return rv;
}

chat_err chat_view_update(chat_ctx *ctx, const chat_session *s, const char *view_id,
                          const char *external_id, const char *hash, const char *view,
                          char **out)
{
    chati_clear_errmsg();
    chat_err rv = app_session(ctx, s);
    chat_view *v = NULL;
    if (rv == CHAT_OK)
        rv = app_view(ctx, s, view_id, external_id, &v);
    json_t *old = rv == CHAT_OK ? json_loads(v->body, 0, NULL) : NULL;
    const char *type = str_of(old, "type");
    json_t *body = NULL;
    const char *ext = NULL;
    if (rv == CHAT_OK)
        rv = normal_view(view, type ? type : "modal", s->bot_id, &body, &ext);
    if (rv == CHAT_OK)
        rv = replace(ctx, v, body, ext, hash && *hash ? hash : NULL);
    if (rv == CHAT_OK)
        rv = out_json(v, out);
    json_decref(old);
    json_decref(body);
    chat_view_free(v);
    return rv;
}

/* A person's App Home view of an app has one id, made from both. */
static chat_err home_id(chat_ctx *ctx, const char *app_id, const char *user_id,
                        char id[CHAT_ID_SIZE])
{
    char msg[2 * CHAT_ID_SIZE + 2], mac[CHATI_MAC_B64_LEN + 1];
    int len = snprintf(msg, sizeof msg, "%s.%s", app_id, user_id);
    chat_err rv = chati_ctx_mac(ctx, "home", msg, (size_t)len, mac);
    if (rv != CHAT_OK)
        return rv;
    id[0] = 'V';
    for (int i = 1; i < 21; i++) {
        char c = mac[i];
        id[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c == '-' ? '0' : c == '_' ? '1' : c;
    }
    id[21] = '\0';
    return CHAT_OK;
}

chat_err chat_view_publish(chat_ctx *ctx, const chat_session *s, const char *user_id,
                           const char *hash, const char *view, char **out)
{
    chati_clear_errmsg();
    chat_err rv = app_session(ctx, s);
    chat_user *u = NULL;
    if (rv == CHAT_OK && !chati_id_valid(user_id, 'U') && !chati_id_valid(user_id, 'W'))
        rv = chati_fail(CHAT_ERR_USER_NOT_FOUND, "not a user id");
    if (rv == CHAT_OK) {
        rv = chati_user_get(ctx, user_id, &u);
        if (chati_not_found(rv) || (rv == CHAT_OK && strcmp(u->team_id, s->team_id) != 0))
            rv = chati_fail(CHAT_ERR_USER_NOT_FOUND, "no user %.30s here", user_id);
    }
    json_t *body = NULL;
    const char *ext = NULL;
    if (rv == CHAT_OK)
        rv = normal_view(view, "home", s->bot_id, &body, &ext);
    char id[CHAT_ID_SIZE];
    chat_view *v = NULL;
    if (rv == CHAT_OK)
        rv = home_id(ctx, s->app_id, user_id, id);
    if (rv == CHAT_OK) {
        rv = ctx->auth->get_view(ctx->auth_impl, id, NULL, NULL, &v);
        if (rv == CHAT_OK) {
            rv = replace(ctx, v, body, ext, hash && *hash ? hash : NULL);
        } else if (chati_not_found(rv)) {
            /* The first: made with the id both give. */
            v = chat_view_new();
            rv = v ? new_hash(v->hash) : chati_fail(CHAT_ERR_NOMEM, "view");
            if (rv == CHAT_OK) {
                memcpy(v->id, id, CHAT_ID_SIZE);
                memcpy(v->root_id, id, CHAT_ID_SIZE);
                memcpy(v->team_id, s->team_id, CHAT_ID_SIZE);
                memcpy(v->app_id, s->app_id, CHAT_ID_SIZE);
                memcpy(v->user_id, u->id, CHAT_ID_SIZE);
                v->depth = 1;
                v->open = true;
                v->updated_ms = chati_now_ms();
                v->external_id = ext ? chat_strdup(ext) : NULL;
                v->body = dump(body);
                rv = v->body && (!ext || v->external_id) ? CHAT_OK
                                                         : chati_fail(CHAT_ERR_NOMEM, "view");
            }
            if (rv == CHAT_OK)
                rv = ctx->auth->create_view(ctx->auth_impl, v);
            if (rv == CHAT_ERR_DUPLICATE) {
                chat_view *same = NULL;
                rv = ext && ctx->auth->get_view(ctx->auth_impl, NULL, s->app_id, ext, &same) ==
                                CHAT_OK
                         ? chati_fail(CHAT_ERR_DUPLICATE_EXTERNAL_ID, "external_id %.40s is in use",
                                      ext)
                         : chati_fail(CHAT_ERR_HASH_CONFLICT, "published at the same time");
                chat_view_free(same);
            }
        }
    }
    if (rv == CHAT_OK)
        rv = out_json(v, out);
    chat_view_free(v);
    json_decref(body);
    chat_user_free(u);
    return rv;
}

/* ---------------------------------------------------- the person's side --- */

/* Closes v (and, all: every view under it) and tells the person. */
static chat_err close_view(chat_ctx *ctx, chat_view *v, bool all)
{
    chat_view *cur = v, *next = NULL;
    chat_err rv = CHAT_OK;
    for (int i = 0; rv == CHAT_OK && cur && i < MAX_STACK; i++) {
        if (cur->open) {
            cur->open = false;
            chat_free(cur->external_id); /* free for another view */
            cur->external_id = NULL;
            cur->updated_ms = chati_now_ms();
            rv = ctx->auth->update_view(ctx->auth_impl, cur, NULL);
            if (rv == CHAT_OK)
                view_event(ctx, cur, "view_closed", NULL);
        }
        next = NULL;
        if (rv == CHAT_OK && all && cur->previous_id[0] &&
            ctx->auth->get_view(ctx->auth_impl, cur->previous_id, NULL, NULL, &next) != CHAT_OK)
            next = NULL;
        if (cur != v)
            chat_view_free(cur);
        cur = next;
    }
    if (cur != v)
        chat_view_free(cur);
    return rv;
}

/* A person's own open modal. */
static chat_err own_view(chat_ctx *ctx, const chat_session *s, const char *view_id,
                         chat_view **out)
{
    CHATI_REQUIRE(ctx, auth, "auth");
    chat_err rv = chati_check_session(s);
    if (rv == CHAT_OK && s->kind != CHAT_TOKEN_USER)
        rv = chati_fail(CHAT_ERR_NOT_ALLOWED_TOKEN_TYPE, "people submit and close views");
    if (rv == CHAT_OK && !chati_views_kept(ctx))
        rv = chati_fail(CHAT_ERR_NOT_SUPPORTED, "this auth store keeps no views");
    if (rv == CHAT_OK)
        rv = chati_id_valid(view_id, 'V')
                 ? ctx->auth->get_view(ctx->auth_impl, view_id, NULL, NULL, out)
                 : CHAT_ERR_NOT_FOUND;
    if (rv == CHAT_OK && strcmp((*out)->user_id, s->user_id) != 0) {
        chat_view_free(*out);
        *out = NULL;
        rv = CHAT_ERR_NOT_FOUND;
    }
    if (chati_not_found(rv))
        rv = chati_fail(CHAT_ERR_NOT_FOUND, "no view %.30s of yours", view_id ? view_id : "");
    return rv;
}

/* An option of el's (options, or option_groups' options) whose value is v. */
static json_t *option_of(const json_t *el, const char *value)
{
    size_t i, j;
    json_t *o, *g;
    json_array_foreach(json_object_get(el, "options"), i, o) if (value &&
                                                                 json_is_object(o) &&
                                                                 str_of(o, "value") &&
                                                                 strcmp(str_of(o, "value"),
                                                                        value) == 0) return o;
    json_array_foreach(json_object_get(el, "option_groups"), j, g)
    {
        json_array_foreach(json_object_get(g, "options"), i, o) if (value && json_is_object(o) &&
                                                                    str_of(o, "value") &&
                                                                    strcmp(str_of(o, "value"),
                                                                           value) == 0) return o;
    }
    return NULL;
}

/* One input's value as Slack's state.values has it, rebuilt from the view
 * (a select's option is the view's own), or NULL when nothing is entered. */
static chat_err input_value(const json_t *el, const json_t *given, json_t **out)
{
    const char *type = str_of(el, "type");
    *out = NULL;
    if (strcmp(type, "plain_text_input") == 0 || strcmp(type, "email_text_input") == 0 ||
        strcmp(type, "url_text_input") == 0 || strcmp(type, "number_input") == 0) {
        const char *text = str_of(given, "value");
        json_int_t max = json_integer_value(json_object_get(el, "max_length"));
        if (text && chars_of(text) > (size_t)(max > 0 && max < INPUT_MAX ? max
                                                                                 : INPUT_MAX))
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "an input is too long");
        if (text && *text)
            *out = json_pack("{s:s, s:s}", "type", type, "value", text);
    } else if (strcmp(type, "static_select") == 0 || strcmp(type, "radio_buttons") == 0) {
        json_t *o = option_of(el, str_of(json_object_get(given, "selected_option"), "value"));
        if (o)
            *out = json_pack("{s:s, s:O}", "type", type, "selected_option", o);
        else if (json_object_get(given, "selected_option"))
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "not an option of the select");
    } else if (strcmp(type, "checkboxes") == 0 || strcmp(type, "multi_static_select") == 0) {
        json_t *picked = json_array();
        size_t i;
        json_t *g;
        json_array_foreach(json_object_get(given, "selected_options"), i, g)
        {
            json_t *o = option_of(el, str_of(g, "value"));
            if (o == NULL) {
                json_decref(picked);
                return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "not an option of the input");
            }
            json_array_append(picked, o);
        }
        if (json_array_size(picked) > 0)
            *out = json_pack("{s:s, s:o}", "type", type, "selected_options", picked);
        else
            json_decref(picked);
    }
    return CHAT_OK;
}

/* state.values for body's inputs from what the person sent; partial: an
 * empty required input is no error (a click while the form is half done). */
static chat_err check_values(const json_t *body, const char *values, bool partial, json_t **out)
{
    *out = NULL;
    if (values && strlen(values) > VALUES_MAX_BYTES)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "values are 64 KB at most");
    json_t *given = values && *values ? json_loads(values, 0, NULL) : json_object();
    if (!json_is_object(given)) {
        json_decref(given);
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "values must be a JSON object");
    }
    json_t *state = json_object();
    chat_err rv = state ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "values");
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(body, "blocks"), i, b)
    {
        if (rv != CHAT_OK)
            break;
        if (strcmp(str_of(b, "type"), "input") != 0)
            continue;
        const char *bid = str_of(b, "block_id");
        json_t *el = json_object_get(b, "element");
        const char *aid = str_of(el, "action_id");
        json_t *v = NULL;
        rv = input_value(el, json_object_get(json_object_get(given, bid), aid), &v);
        if (rv == CHAT_OK && v == NULL && !partial &&
            !json_is_true(json_object_get(b, "optional")))
            rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "%.60s is required",
                            str_of(json_object_get(b, "label"), "text"));
        if (rv == CHAT_OK && v)
            json_object_set_new(state, bid, json_pack("{s:o}", aid, v));
    }
    json_decref(given);
    if (rv == CHAT_OK)
        *out = state;
    else
        json_decref(state);
    return rv;
}

/* A ticket for the gateway to answer a submission with: "<view>.<expiry>.<mac>". */
static chat_err answer_ticket(chat_ctx *ctx, const char *view_id, char out[160])
{
    char msg[64], mac[CHATI_MAC_B64_LEN + 1];
    int len = snprintf(msg, sizeof msg, "%s.%lld", view_id,
                       (long long)(chati_now_ms() / 1000 + ANSWER_TTL_S));
    chat_err rv = chati_ctx_mac(ctx, "view-answer", msg, (size_t)len, mac);
    if (rv == CHAT_OK)
        snprintf(out, 160, "%s.%s", msg, mac);
    return rv;
}

/* Queues an interaction about v for its app: payload gets the app's id; the
 * app's interactivity URL and (answer) a ticket for its acknowledgement. */
static chat_err queue_for_app(chat_ctx *ctx, const chat_view *v, json_t *payload, bool answer)
{
    chat_app *a = NULL;
    chat_err rv = ctx->auth->get_app(ctx->auth_impl, v->app_id, &a);
    if (chati_not_found(rv) || (rv == CHAT_OK && !a->active))
        rv = chati_fail(CHAT_ERR_APP_NOT_FOUND, "the app of this view is gone");
    json_t *m = rv == CHAT_OK ? json_loads(a->manifest, 0, NULL) : NULL;
    const char *url = str_of(json_object_get(json_object_get(m, "settings"), "interactivity"),
                             "request_url");
    char ticket[160] = "", event_id[CHAT_APP_EVENT_ID_SIZE], hex[17];
    uint8_t rnd[8];
    if (rv == CHAT_OK && answer)
        rv = answer_ticket(ctx, v->id, ticket);
    if (rv == CHAT_OK)
        rv = chati_random(rnd, sizeof rnd);
    char *data = NULL;
    if (rv == CHAT_OK) {
        chati_hex_encode(rnd, sizeof rnd, hex);
        snprintf(event_id, sizeof event_id, "View%lld.%s", (long long)chati_now_ms(), hex);
        json_object_set_new(payload, "api_app_id", json_string(a->id));
        json_t *w = json_pack("{s:s, s:O}", "url", url ? url : "", "payload", payload);
        if (w && answer)
            json_object_set_new(w, "answer", json_string(ticket));
        data = w ? json_dumps(w, JSON_COMPACT) : NULL;
        json_decref(w);
        rv = data ? chati_app_queue(ctx, a->id, event_id, CHAT_APP_EVENT_INTERACTION, data)
                  : chati_fail(CHAT_ERR_NOMEM, "interaction");
    }
    free(data); /* jansson's allocator */
    json_decref(m);
    chat_app_free(a);
    return rv;
}

/* Slack's user and team of an interaction, for s. */
static chat_err who(chat_ctx *ctx, const chat_session *s, json_t *p)
{
    chat_user *u = NULL;
    chat_err rv = chati_user_get(ctx, s->user_id, &u);
    if (rv != CHAT_OK)
        return rv;
    const char *name = u->name ? u->name : "";
    json_object_set_new(p, "user", json_pack("{s:s, s:s, s:s, s:s}", "id", s->user_id,
                                             "username", name, "name", name, "team_id",
                                             s->team_id));
    json_object_set_new(p, "team", json_pack("{s:s, s:s}", "id", s->team_id, "domain", ""));
    json_object_set_new(p, "token", json_string(""));
    json_object_set_new(p, "is_enterprise_install", json_false());
    json_object_set_new(p, "enterprise", json_null());
    chat_user_free(u);
    return CHAT_OK;
}

chat_err chat_view_submit(chat_ctx *ctx, const chat_session *s, const char *view_id,
                          const char *values)
{
    chati_clear_errmsg();
    chat_view *v = NULL;
    chat_err rv = own_view(ctx, s, view_id, &v);
    json_t *body = rv == CHAT_OK ? json_loads(v->body, 0, NULL) : NULL;
    if (rv == CHAT_OK && (!v->open || strcmp(str_of(body, "type"), "modal") != 0))
        rv = chati_fail(CHAT_ERR_NOT_FOUND, "the view is not open");
    json_t *state = NULL, *p = json_object();
    if (rv == CHAT_OK)
        rv = check_values(body, values, false, &state);
    if (rv == CHAT_OK) {
        char *text = dump(state);
        chat_free(v->values);
        v->values = text;
        v->updated_ms = chati_now_ms();
        rv = text ? ctx->auth->update_view(ctx->auth_impl, v, v->hash)
                  : chati_fail(CHAT_ERR_NOMEM, "values");
    }
    char trigger[CHATI_TRIGGER_SIZE];
    if (rv == CHAT_OK)
        rv = chati_app_trigger(ctx, v->app_id, s->user_id, v->id, trigger);
    if (rv == CHAT_OK)
        rv = p ? who(ctx, s, p) : chati_fail(CHAT_ERR_NOMEM, "submission");
    if (rv == CHAT_OK) {
        /* Slack's view_submission, with what Bolt reads of it. */
        json_object_set_new(p, "type", json_string("view_submission"));
        json_object_set_new(p, "trigger_id", json_string(trigger));
        json_object_set_new(p, "view", view_json(v));
        json_object_set_new(p, "response_urls", json_array());
        rv = queue_for_app(ctx, v, p, true);
    }
    json_decref(p);
    json_decref(state);
    json_decref(body);
    chat_view_free(v);
    return rv;
}

/* The element of body's blocks (an actions block's, or a section's
 * accessory) with action_id (in block_id, when given); *in_block its block. */
static const json_t *view_element(const json_t *body, const char *block_id,
                                  const char *action_id, const char **in_block)
{
    size_t i, j;
    const json_t *b, *e;
    json_array_foreach(json_object_get(body, "blocks"), i, b)
    {
        const char *bid = str_of(b, "block_id");
        if (block_id && *block_id && (bid == NULL || strcmp(bid, block_id) != 0))
            continue;
        const json_t *acc = json_object_get(b, "accessory");
        if (str_of(acc, "action_id") && strcmp(str_of(acc, "action_id"), action_id) == 0) {
            *in_block = bid;
            return acc;
        }
        json_array_foreach(json_object_get(b, "elements"), j, e) if (
            str_of(e, "action_id") && strcmp(str_of(e, "action_id"), action_id) == 0)
        {
            *in_block = bid;
            return e;
        }
    }
    return NULL;
}

chat_err chat_view_action(chat_ctx *ctx, const chat_session *s, const char *view_id,
                          const char *block_id, const char *action_id, const char *value,
                          const char *values)
{
    chati_clear_errmsg();
    chat_view *v = NULL;
    chat_err rv = own_view(ctx, s, view_id, &v);
    json_t *body = rv == CHAT_OK ? json_loads(v->body, 0, NULL) : NULL;
    if (rv == CHAT_OK && !v->open)
        rv = chati_fail(CHAT_ERR_NOT_FOUND, "the view is not open");
    if (rv == CHAT_OK && (action_id == NULL || *action_id == '\0' || strlen(action_id) > 255))
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "action_id is required");
    const json_t *el = NULL;
    const char *in_block = NULL;
    if (rv == CHAT_OK && (el = view_element(body, block_id, action_id, &in_block)) == NULL)
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "the view has no action %.60s", action_id);
    json_t *state = NULL, *p = json_object();
    if (rv == CHAT_OK)
        rv = check_values(body, values, true, &state);
    if (rv == CHAT_OK) {
        char *text = dump(state);
        chat_free(v->values); /* what the app sees of the form, as it stands */
        v->values = text;
        rv = text ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "values");
    }
    char trigger[CHATI_TRIGGER_SIZE], action_ts[CHAT_TS_SIZE];
    if (rv == CHAT_OK)
        rv = chati_app_trigger(ctx, v->app_id, s->user_id, v->id, trigger);
    if (rv == CHAT_OK)
        rv = p ? who(ctx, s, p) : chati_fail(CHAT_ERR_NOMEM, "action");
    if (rv == CHAT_OK) {
        /* Slack's block_actions from a view: its trigger_id may push on it. */
        chati_ts_format(chati_now_us(), action_ts);
        json_t *action = json_deep_copy(el);
        if (action) {
            json_object_set_new(action, "block_id", json_string(in_block ? in_block : ""));
            json_object_set_new(action, "action_ts", json_string(action_ts));
            if (value && *value && json_object_get(action, "value") == NULL)
                json_object_set_new(action, "value", json_string(value));
        }
        json_object_set_new(p, "type", json_string("block_actions"));
        json_object_set_new(p, "container",
                            json_pack("{s:s, s:s}", "type", "view", "view_id", v->id));
        json_object_set_new(p, "trigger_id", json_string(trigger));
        json_object_set_new(p, "view", view_json(v));
        json_object_set_new(p, "actions", action ? json_pack("[o]", action) : json_array());
        rv = queue_for_app(ctx, v, p, false);
    }
    json_decref(p);
    json_decref(state);
    json_decref(body);
    chat_view_free(v);
    return rv;
}

chat_err chat_view_close(chat_ctx *ctx, const chat_session *s, const char *view_id)
{
    chati_clear_errmsg();
    chat_view *v = NULL;
    chat_err rv = own_view(ctx, s, view_id, &v);
    if (rv != CHAT_OK || !v->open) {
        chat_view_free(v);
        return rv;
    }
    json_t *body = json_loads(v->body, 0, NULL);
    bool all = json_is_true(json_object_get(body, "clear_on_close"));
    json_t *p = json_is_true(json_object_get(body, "notify_on_close")) ? json_object() : NULL;
    if (p && (rv = who(ctx, s, p)) == CHAT_OK) {
        json_object_set_new(p, "type", json_string("view_closed"));
        json_object_set_new(p, "view", view_json(v));
        json_object_set_new(p, "is_cleared", json_boolean(all));
    }
    if (rv == CHAT_OK)
        rv = close_view(ctx, v, all);
    if (rv == CHAT_OK && p)
        rv = queue_for_app(ctx, v, p, false);
    json_decref(p);
    json_decref(body);
    chat_view_free(v);
    return rv;
}

/* ------------------------------------------------------ the app's answer --- */

/* errors: {block_id: message}, for blocks of the view. */
static chat_err check_errors(const json_t *body, json_t *errors)
{
    if (!json_is_object(errors) || json_object_size(errors) == 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "errors must name blocks");
    const char *k;
    json_t *msg;
    json_object_foreach(errors, k, msg)
    {
        bool found = false;
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(body, "blocks"), i, b) found |=
            str_of(b, "block_id") && strcmp(str_of(b, "block_id"), k) == 0;
        if (!found || !json_is_string(msg) || chars_of(json_string_value(msg)) > 500)
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "errors: %.40s is not a block", k);
    }
    return CHAT_OK;
}

chat_err chati_view_answer(chat_ctx *ctx, const char *ticket, const char *answer)
{
    chati_clear_errmsg();
    if (!chati_views_kept(ctx))
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "this auth store keeps no views");
    char f[3][CHATI_MAC_B64_LEN + 1];
    const char *p = ticket ? ticket : "";
    size_t signed_len = 0;
    for (int i = 0; i < 3; i++) {
        size_t len = strcspn(p, ".");
        if (len == 0 || len > CHATI_MAC_B64_LEN || (i < 2 && p[len] != '.') ||
            (i == 2 && p[len] != '\0'))
            return chati_fail(CHAT_ERR_INVALID_AUTH, "not a view answer");
        memcpy(f[i], p, len);
        f[i][len] = '\0';
        if (i == 2)
            signed_len = (size_t)(p - ticket) - 1;
        p += len + (i < 2);
    }
    char want[CHATI_MAC_B64_LEN + 1];
    chat_err rv = chati_ctx_mac(ctx, "view-answer", ticket, signed_len, want);
    if (rv != CHAT_OK)
        return rv;
    if (strlen(f[2]) != CHATI_MAC_B64_LEN || !chati_consttime_eq(want, f[2], CHATI_MAC_B64_LEN))
        return chati_fail(CHAT_ERR_INVALID_AUTH, "not a view answer");
    if (strtoll(f[1], NULL, 10) < chati_now_ms() / 1000)
        return chati_fail(CHAT_ERR_EXPIRED_URL, "too late to answer");
    chat_view *v = NULL;
    if ((rv = ctx->auth->get_view(ctx->auth_impl, f[0], NULL, NULL, &v)) != CHAT_OK)
        return rv;
    json_t *a = answer && *answer ? json_loads(answer, 0, NULL) : NULL;
    if (answer && answer[strspn(answer, " \t\r\n")] != '\0' && !json_is_object(a)) {
        /* Not an answer Slack knows (or cut short): the view stays open. */
        json_decref(a);
        chat_view_free(v);
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "the app's answer is not a JSON object");
    }
    json_t *body = json_loads(v->body, 0, NULL);
    const char *action = str_of(a, "response_action");
    if (!v->open) {
        rv = CHAT_OK; /* closed meanwhile: nothing to answer */
    } else if (action == NULL || strcmp(action, "clear") == 0) {
        rv = close_view(ctx, v, action != NULL);
    } else if (strcmp(action, "errors") == 0) {
        json_t *errors = json_object_get(a, "errors");
        rv = check_errors(body, errors);
        if (rv == CHAT_OK) {
            json_t *more = json_pack("{s:O}", "errors", errors);
            view_event(ctx, v, "view_errors", more);
            json_decref(more);
        }
    } else if (strcmp(action, "update") == 0 || strcmp(action, "push") == 0) {
        char *text = json_dumps(json_object_get(a, "view"), JSON_COMPACT);
        json_t *nb = NULL;
        const char *ext = NULL;
        rv = normal_view(text, "modal", str_of(body, "bot_id"), &nb, &ext);
        if (rv == CHAT_OK && action[0] == 'u') {
            rv = replace(ctx, v, nb, ext, NULL);
        } else if (rv == CHAT_OK) {
            chat_session app;
            memset(&app, 0, sizeof app);
            memcpy(app.team_id, v->team_id, CHAT_ID_SIZE);
            memcpy(app.app_id, v->app_id, CHAT_ID_SIZE);
            chat_view *top = NULL;
            rv = create(ctx, &app, v->user_id, NULL, v, nb, ext, &top);
            chat_view_free(top);
        }
        json_decref(nb);
        free(text); /* jansson's allocator */
    } else {
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "unknown response_action %.30s", action);
    }
    json_decref(body);
    json_decref(a);
    chat_view_free(v);
    return rv;
}
