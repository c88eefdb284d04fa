/* chat_message_import: an export's old messages, checked here and stored in
 * bulk by the message store's import (chat/backend/store.h). */
#include <string.h>

#include "domain/ctx.h"

/* Authors already found in the caller's team; a batch has few distinct ones. */
typedef struct known_users {
    char (*ids)[CHAT_ID_SIZE];
    size_t n;
} known_users;

static chat_err check_author(chat_ctx *ctx, const chat_session *s, known_users *k,
                             const char *user)
{
    for (size_t i = k->n; i-- > 0;)
        if (strcmp(k->ids[i], user) == 0)
            return CHAT_OK;
    chat_user *u = NULL;
    chat_err rv = chati_user_get(ctx, user, &u);
    if (chati_not_found(rv) || (rv == CHAT_OK && strcmp(u->team_id, s->team_id) != 0))
        rv = chati_fail(CHAT_ERR_USER_NOT_FOUND, "import: no user %s in this workspace", user);
    chat_user_free(u);
    if (rv != CHAT_OK)
        return rv;
    char(*ids)[CHAT_ID_SIZE] = chat_realloc(k->ids, (k->n + 1) * CHAT_ID_SIZE);
    if (ids == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "import");
    k->ids = ids;
    chati_copy_fixed(k->ids[k->n++], CHAT_ID_SIZE, user);
    return CHAT_OK;
}

/* Fills m from the i-th message of the arguments. */
static chat_err import_message(chat_ctx *ctx, const chat_session *s, known_users *k,
                               const char *channel, const char *ts, const char *user,
                               const char *text, chat_message *m)
{
    int64_t us;
    if (ts == NULL || !chati_ts_parse(ts, &us))
        return chati_fail(CHAT_ERR_INVALID_TS, "import: \"%.40s\" is not a message timestamp",
                          ts != NULL ? ts : "");
    if (user == NULL || !chati_copy_fixed(m->user, CHAT_ID_SIZE, user))
        return chati_fail(CHAT_ERR_USER_NOT_FOUND, "import: message %s has no valid user", ts);
    if (text == NULL || text[0] == '\0')
        return chati_fail(CHAT_ERR_NO_TEXT, "import: message %s has no text", ts);
    chat_err rv = chati_check_text(text, CHAT_MAX_TEXT_CHARS, CHAT_ERR_MSG_TOO_LONG, "text");
    if (rv == CHAT_OK)
        rv = check_author(ctx, s, k, user);
    if (rv != CHAT_OK)
        return rv;
    chati_ts_format(us, m->ts);
    memcpy(m->channel, channel, CHAT_ID_SIZE);
    memcpy(m->team_id, s->team_id, CHAT_ID_SIZE);
    /* Borrowed: the array is freed field by field below, never with
     * chat_message_free. */
    m->text = (char *)text;
    return chati_parse_mentions(text, &m->mentions, &m->n_mentions, &m->mention_flags);
}

chat_err chat_message_import(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                             size_t n, const char *const *ts, const char *const *users,
                             const char *const *texts)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, messages, "message");
    chat_err rv = chati_check_session(s);
    if (rv != CHAT_OK)
        return rv;
    if (!s->is_admin)
        return chati_fail(CHAT_ERR_RESTRICTED_ACTION, "only an admin imports messages");
    if (n > 0 && (ts == NULL || users == NULL || texts == NULL))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "import: ts, users and texts are required");
    if (!CHATI_HAS(ctx->messages, import, CHAT_STORE_V3))
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "the message store cannot import");
    chat_channel *c = NULL;
    if ((rv = chati_channel_visible(ctx, s, channel_id, &c, NULL)) != CHAT_OK || n == 0) {
        chat_channel_free(c);
        return rv;
    }
    chat_message *msgs = chat_calloc(n, sizeof *msgs);
    known_users k = {0};
    if (msgs == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "import of %zu messages", n);
    for (size_t i = 0; i < n && rv == CHAT_OK; i++)
        rv = import_message(ctx, s, &k, c->id, ts[i], users[i], texts[i], &msgs[i]);
    /* The store checks that ts increase, on the parsed values. */
    if (rv == CHAT_OK)
        rv = ctx->messages->import(ctx->messages_impl, c->id, msgs, n);
    for (size_t i = 0; msgs != NULL && i < n; i++)
        chat_free(msgs[i].mentions);
    chat_free(msgs);
    chat_free(k.ids);
    chat_channel_free(c);
    return rv;
}
