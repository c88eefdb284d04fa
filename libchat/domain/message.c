/* Messages: post, edit, delete, reactions, history, threads, search. */
#include <string.h>

#include "domain/ctx.h"
#include "domain/message_internal.h"

#define MESSAGE_COMMON(ctx, s)                                                           \
    do {                                                                                 \
        chati_clear_errmsg();                                                            \
        CHATI_REQUIRE(ctx, messages, "message");                                         \
        chat_err rv_ = chati_check_session(s);                                           \
        if (rv_ != CHAT_OK)                                                              \
            return rv_;                                                                  \
    } while (0)

#define MAX_CLIENT_MSG_ID 64
#define MAX_QUERY_CHARS 1000

static chat_err check_message_text(const char *text, bool required)
{
    if (text == NULL || text[0] == '\0')
        return required ? chati_fail(CHAT_ERR_NO_TEXT, "the message has no text") : CHAT_OK;
    return chati_check_text(text, CHAT_MAX_TEXT_CHARS, CHAT_ERR_MSG_TOO_LONG, "text");
}

static chat_err check_client_msg_id(const char *id)
{
    if (id == NULL || id[0] == '\0')
        return CHAT_OK;
    size_t len = strlen(id);
    if (len > MAX_CLIENT_MSG_ID)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "client_msg_id is longer than %d",
                          MAX_CLIENT_MSG_ID);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)id[i] <= ' ' || (unsigned char)id[i] >= 0x7f)
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "client_msg_id must be printable ASCII");
    return CHAT_OK;
}

/* Normalises a ts argument ("123.5" -> "0000000123.500000"); invalid_ts. */
static chat_err norm_ts(const char *in, char out[CHAT_TS_SIZE], const char *what)
{
    int64_t us;
    if (in == NULL || !chati_ts_parse(in, &us))
        return chati_fail(CHAT_ERR_INVALID_TS, "%s is not a message timestamp", what);
    chati_ts_format(us, out);
    return CHAT_OK;
}

/* The channel, which the caller must belong to, and which must be open. */
static chat_err writable_channel(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                                 chat_channel **out)
{
    bool member = false;
    chat_err rv = chati_channel_post_target(ctx, s, channel_id, out, &member);
    if (rv != CHAT_OK)
        return rv;
    if (!member)
        rv = chati_fail(CHAT_ERR_NOT_IN_CHANNEL, "join the channel first");
    else if ((*out)->is_archived)
        rv = chati_fail(CHAT_ERR_IS_ARCHIVED, "the channel is archived");
    if (rv != CHAT_OK) {
        chat_channel_free(*out);
        *out = NULL;
    }
    return rv;
}

/* The text of a message with m's rich parts: text itself, or when empty the
 * text derived from the blocks; no_text when there is nothing at all. */
static chat_err message_text(chat_message *m, const char *text, bool has_file)
{
    chat_err rv = check_message_text(text, false);
    if (rv != CHAT_OK)
        return rv;
    if (text && *text)
        return (m->text = chat_strdup(text)) ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "text");
    if (m->blocks)
        return chati_text_from_blocks(m->blocks, &m->text);
    if (!has_file && m->attachments == NULL)
        return chati_fail(CHAT_ERR_NO_TEXT, "the message has no text, blocks or attachments");
    return (m->text = chat_strdup("")) ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "text");
}

static chat_err post_as(chat_ctx *ctx, const chat_session *s, const chat_session *member,
                        const char *channel_id, const char *text, const chat_post_opts *o,
                        const char *file_id, const char *subtype, chat_message **out);

chat_err chati_message_post(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                            const char *text, const chat_post_opts *o, const char *file_id,
                            chat_message **out)
{
    return post_as(ctx, s, s, channel_id, text, o, file_id, NULL, out);
}

chat_err chati_message_post_for(chat_ctx *ctx, const chat_session *s,
                                const chat_session *member, const char *channel_id,
                                const char *text, const chat_post_opts *o, chat_message **out)
{
    MESSAGE_COMMON(ctx, s);
    return post_as(ctx, s, member, channel_id, text, o, NULL, NULL, out);
}

chat_err chati_message_post_notice(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                                   const char *subtype, const char *text,
                                   const char *client_msg_id)
{
    MESSAGE_COMMON(ctx, s);
    chat_post_opts o = {.version = CHAT_POST_OPTS_V1, .client_msg_id = client_msg_id};
    return post_as(ctx, s, s, channel_id, text, &o, NULL, subtype, NULL);
}

/* Posts as s where member (s, or the person s answers) may write; subtype:
 * a notice's (NULL for a message of the poster's own). */
static chat_err post_as(chat_ctx *ctx, const chat_session *s, const chat_session *member,
                        const char *channel_id, const char *text, const chat_post_opts *o,
                        const char *file_id, const char *subtype, chat_message **out)
{
    if (out)
        *out = NULL;
    const char *thread_ts = o ? o->thread_ts : NULL;
    const char *client_msg_id = o ? o->client_msg_id : NULL;
    unsigned flags = o ? o->flags : 0;
    chat_err rv;
    if ((rv = check_client_msg_id(client_msg_id)) != CHAT_OK)
        return rv;
    chat_message *m = chat_message_new();
    chat_event *ev = chati_event_new(CHAT_EVENT_MESSAGE_CREATED);
    if (m == NULL || ev == NULL) {
        chat_message_free(m);
        chati_event_free(ev);
        return chati_fail(CHAT_ERR_NOMEM, "message");
    }
    chat_channel *c = NULL;
    rv = chati_message_set_rich(m, o, true);
    if (rv == CHAT_OK)
        rv = message_text(m, text, file_id != NULL);
    if (rv == CHAT_OK && thread_ts && *thread_ts)
        rv = norm_ts(thread_ts, m->thread_ts, "thread_ts");
    if (rv == CHAT_OK)
        rv = writable_channel(ctx, member, channel_id, &c);
    if (rv == CHAT_OK) {
        memcpy(m->channel, c->id, CHAT_ID_SIZE);
        memcpy(m->team_id, s->team_id, CHAT_ID_SIZE);
        memcpy(m->user, s->user_id, CHAT_ID_SIZE);
        memcpy(m->bot_id, s->bot_id, CHAT_ID_SIZE); /* "" for people */
        m->client_msg_id = client_msg_id && *client_msg_id ? chat_strdup(client_msg_id) : NULL;
        /* A bot posting under a name of its choosing: Slack's bot_message. */
        if (m->bot_id[0] && m->username && !(flags & CHAT_POST_ME_MESSAGE) &&
            (m->subtype = chat_strdup("bot_message")) == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "message");
        m->reply_broadcast = m->thread_ts[0] && (flags & CHAT_POST_REPLY_BROADCAST);
        if ((flags & CHAT_POST_ME_MESSAGE) && (m->subtype = chat_strdup("me_message")) == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "message");
        if (subtype && (chat_free(m->subtype), m->subtype = chat_strdup(subtype)) == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "message");
        if (client_msg_id && *client_msg_id && m->client_msg_id == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "message");
    }
    if (rv == CHAT_OK)
        rv = chati_parse_mentions(m->text, &m->mentions, &m->n_mentions, &m->mention_flags);
    if (rv == CHAT_OK && file_id) {
        m->files = chat_calloc(1, sizeof *m->files);
        if (m->files == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "message");
        else {
            chati_copy_fixed(m->files[0], CHAT_ID_SIZE, file_id);
            m->n_files = 1;
        }
    }
    if (rv == CHAT_OK) {
        memcpy(ev->user_id, s->user_id, CHAT_ID_SIZE);
        ev->channel_type = c->type;
        chat_message *stored = NULL;
        rv = ctx->messages->post(ctx->messages_impl, m, chati_now_us(),
                                 chati_outbox_message_event, ev, &stored);
        if (rv == CHAT_ERR_DUPLICATE) {
            /* A retry of a post that already succeeded: the same message again
             * (only for its author: another user's id is taken, not retried). */
            rv = stored && strcmp(stored->user, s->user_id) == 0
                     ? CHAT_OK
                     : chati_fail(CHAT_ERR_DUPLICATE, "client_msg_id is another user's");
        } else if (rv == CHAT_OK && ctx->outbox) {
            chati_outbox_kick(ctx->outbox);
        }
        if (rv == CHAT_OK && out)
            *out = stored;
        else
            chat_message_free(stored);
    }
    chat_channel_free(c);
    chat_message_free(m);
    chati_event_free(ev);
    return rv;
}

chat_err chat_message_post(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                           const char *text, const char *thread_ts, const char *client_msg_id,
                           unsigned flags, chat_message **out)
{
    chat_post_opts o = {CHAT_POST_OPTS_V1, thread_ts, client_msg_id, flags, 0};
    if (flags & ~CHAT_POST_REPLY_BROADCAST) {
        chati_clear_errmsg();
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "unknown post flags");
    }
    return chat_message_post_opts(ctx, s, channel_id, text, &o, out);
}

chat_err chat_message_post_opts(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                                const char *text, const chat_post_opts *opts,
                                chat_message **out)
{
    MESSAGE_COMMON(ctx, s);
    if (opts && (opts->flags & ~(CHAT_POST_REPLY_BROADCAST | CHAT_POST_UNFURL_LINKS |
                                 CHAT_POST_UNFURL_MEDIA | CHAT_POST_ME_MESSAGE)))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "unknown post flags");
    return chati_message_post(ctx, s, channel_id, text, opts, NULL, out);
}

static chat_err ephemeral(chat_ctx *ctx, const chat_session *s, bool writer_in_channel,
                          const char *channel_id, const char *user_id, const char *text,
                          const chat_post_opts *opts, char ts_out[CHAT_TS_SIZE]);

chat_err chat_message_post_ephemeral(chat_ctx *ctx, const chat_session *s,
                                     const char *channel_id, const char *user_id,
                                     const char *text, const chat_post_opts *opts,
                                     char ts_out[CHAT_TS_SIZE])
{
    MESSAGE_COMMON(ctx, s);
    return ephemeral(ctx, s, true, channel_id, user_id, text, opts, ts_out);
}

chat_err chati_message_post_ephemeral_for(chat_ctx *ctx, const chat_session *s,
                                          const chat_session *reader, const char *channel_id,
                                          const char *text, const chat_post_opts *opts)
{
    MESSAGE_COMMON(ctx, s);
    return ephemeral(ctx, s, false, channel_id, reader->user_id, text, opts, NULL);
}

/* Shows a message to user_id alone; writer_in_channel: s must be in the
 * channel too (else only the reader, whom s answers). */
static chat_err ephemeral(chat_ctx *ctx, const chat_session *s, bool writer_in_channel,
                          const char *channel_id, const char *user_id, const char *text,
                          const chat_post_opts *opts, char ts_out[CHAT_TS_SIZE])
{
    chat_message *m = chat_message_new();
    chat_event *ev = chati_event_new(CHAT_EVENT_MESSAGE_EPHEMERAL);
    chat_channel *c = NULL, *theirs = NULL;
    bool member = false;
    chat_err rv = m && ev ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "message");
    if (rv == CHAT_OK && !chati_id_valid(user_id, 'U') && !chati_id_valid(user_id, 'W'))
        rv = chati_fail(CHAT_ERR_USER_NOT_FOUND, "not a user id");
    if (rv == CHAT_OK)
        rv = chati_message_set_rich(m, opts, true);
    if (rv == CHAT_OK)
        rv = message_text(m, text, false);
    if (rv == CHAT_OK && opts && opts->thread_ts && *opts->thread_ts)
        rv = norm_ts(opts->thread_ts, m->thread_ts, "thread_ts");
    chat_session as = *s; /* the reader: asked as them */
    if (rv == CHAT_OK) {
        memcpy(as.user_id, user_id, strlen(user_id) + 1);
        as.is_admin = false;
        as.kind = CHAT_TOKEN_USER;
        rv = writable_channel(ctx, writer_in_channel ? s : &as, channel_id, &c);
    }
    if (rv == CHAT_OK) {
        rv = chati_channel_visible(ctx, &as, c->id, &theirs, &member);
        if (rv == CHAT_ERR_CHANNEL_NOT_FOUND || (rv == CHAT_OK && !member))
            rv = chati_fail(CHAT_ERR_USER_NOT_IN_CHANNEL, "%s is not in the channel", user_id);
    }
    if (rv == CHAT_OK) {
        memcpy(m->channel, c->id, CHAT_ID_SIZE);
        memcpy(m->team_id, s->team_id, CHAT_ID_SIZE);
        memcpy(m->user, s->user_id, CHAT_ID_SIZE);
        memcpy(m->bot_id, s->bot_id, CHAT_ID_SIZE);
        chati_ts_format(chati_now_us(), m->ts);
        rv = chati_parse_mentions(m->text, &m->mentions, &m->n_mentions, &m->mention_flags);
    }
    if (rv == CHAT_OK) {
        memcpy(ev->team_id, s->team_id, CHAT_ID_SIZE);
        memcpy(ev->channel_id, c->id, CHAT_ID_SIZE);
        memcpy(ev->user_id, s->user_id, CHAT_ID_SIZE);
        memcpy(ev->target_user, user_id, strlen(user_id) + 1);
        ev->channel_type = c->type;
        ev->message = m;
        m = NULL;
        chati_publish(ctx, ev);
        if (ts_out)
            memcpy(ts_out, ev->message->ts, CHAT_TS_SIZE);
    }
    chat_channel_free(theirs);
    chat_channel_free(c);
    chat_message_free(m);
    chati_event_free(ev);
    return rv;
}

/* A message in a channel the caller can see. */
static chat_err visible_message(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                                const char *ts, chat_channel **c_out, chat_message **out)
{
    char norm[CHAT_TS_SIZE];
    chat_channel *c = NULL;
    chat_err rv = norm_ts(ts, norm, "ts");
    if (rv == CHAT_OK)
        rv = chati_channel_visible(ctx, s, channel_id, &c, NULL);
    if (rv == CHAT_OK) {
        rv = ctx->messages->get(ctx->messages_impl, c->id, norm, out);
        if (chati_not_found(rv))
            rv = chati_fail(CHAT_ERR_MESSAGE_NOT_FOUND, "no message %s", norm);
    }
    if (rv == CHAT_OK && c_out)
        *c_out = c;
    else
        chat_channel_free(c);
    return rv;
}

chat_err chat_message_get(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                          const char *ts, chat_message **out)
{
    MESSAGE_COMMON(ctx, s);
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    *out = NULL;
    return visible_message(ctx, s, channel_id, ts, NULL, out);
}

chat_err chat_message_update(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                             const char *ts, const char *text, chat_message **out)
{
    return chat_message_update_opts(ctx, s, channel_id, ts, text, NULL, out);
}

/* The text of an edit (m has o's rich parts already): text when given; else
 * what new blocks say; else the message's own, when the edit changed rich
 * parts or the message has some. An edit that leaves nothing is no_text. */
static chat_err edited_text(chat_message *m, const char *text, const chat_post_opts *o)
{
    bool rich_given = o && (o->blocks || o->attachments);
    bool has_rich = m->blocks || m->attachments || m->n_files;
    char *t = NULL;
    chat_err rv = CHAT_OK;
    if (text && *text)
        rv = (t = chat_strdup(text)) ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "text");
    else if (o && o->blocks && m->blocks)
        rv = chati_text_from_blocks(m->blocks, &t);
    else if ((!rich_given && !has_rich) || ((m->text == NULL || !*m->text) && !has_rich))
        return chati_fail(CHAT_ERR_NO_TEXT, "the message would have no text");
    else
        return CHAT_OK;
    if (rv == CHAT_OK) {
        chat_free(m->text);
        m->text = t;
    }
    return rv;
}

chat_err chat_message_update_opts(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                                  const char *ts, const char *text, const chat_post_opts *opts,
                                  chat_message **out)
{
    MESSAGE_COMMON(ctx, s);
    if (out)
        *out = NULL;
    chat_channel *c = NULL;
    chat_message *m = NULL;
    chat_err rv = check_message_text(text, false);
    if (rv == CHAT_OK)
        rv = visible_message(ctx, s, channel_id, ts, &c, &m);
    if (rv != CHAT_OK)
        return rv;
    chat_message *before = NULL; /* the event's previous_message */
    if (strcmp(m->user, s->user_id) != 0)
        rv = chati_fail(CHAT_ERR_CANT_UPDATE_MESSAGE, "only the author edits a message");
    else if (c->is_archived)
        rv = chati_fail(CHAT_ERR_IS_ARCHIVED, "the channel is archived");
    else if ((before = chat_message_dup(m)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "message");
    if (rv == CHAT_OK)
        rv = chati_message_set_rich(m, opts, false);
    if (rv == CHAT_OK)
        rv = edited_text(m, text, opts);
    if (rv == CHAT_OK) {
        chat_free(m->mentions);
        m->mentions = NULL;
        m->n_mentions = 0;
        rv = chati_parse_mentions(m->text, &m->mentions, &m->n_mentions, &m->mention_flags);
    }
    if (rv == CHAT_OK) {
        memcpy(m->edited_user, s->user_id, CHAT_ID_SIZE);
        chati_ts_format(chati_now_us(), m->edited_ts);
        chat_event *ev = chati_event_new(CHAT_EVENT_MESSAGE_CHANGED);
        if (ev == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "event");
        else {
            memcpy(ev->user_id, s->user_id, CHAT_ID_SIZE);
            ev->channel_type = c->type;
            ev->previous = before;
            before = NULL;
            rv = ctx->messages->update(ctx->messages_impl, m, chati_outbox_message_event, ev,
                                       out);
            chati_event_free(ev);
        }
        if (rv == CHAT_OK && ctx->outbox)
            chati_outbox_kick(ctx->outbox);
    }
    chat_message_free(before);
    chat_message_free(m);
    chat_channel_free(c);
    return rv;
}

chat_err chat_message_delete(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                             const char *ts)
{
    MESSAGE_COMMON(ctx, s);
    chat_channel *c = NULL;
    chat_message *m = NULL;
    chat_err rv = visible_message(ctx, s, channel_id, ts, &c, &m);
    if (rv != CHAT_OK)
        return rv;
    if (strcmp(m->user, s->user_id) != 0 && !s->is_admin)
        rv = chati_fail(CHAT_ERR_CANT_DELETE_MESSAGE, "only the author or an admin deletes");
    if (rv == CHAT_OK) {
        chat_event *ev = chati_event_new(CHAT_EVENT_MESSAGE_DELETED);
        if (ev == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "event");
        else {
            memcpy(ev->user_id, s->user_id, CHAT_ID_SIZE);
            ev->channel_type = c->type;
            rv = ctx->messages->remove(ctx->messages_impl, m->channel, m->ts,
                                       chati_outbox_message_event, ev);
            chati_event_free(ev);
        }
        if (chati_not_found(rv))
            rv = chati_fail(CHAT_ERR_MESSAGE_NOT_FOUND, "already deleted");
        if (rv == CHAT_OK && ctx->outbox)
            chati_outbox_kick(ctx->outbox);
    }
    chat_message_free(m);
    chat_channel_free(c);
    return rv;
}

static chat_err react(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                      const char *ts, const char *name, bool add)
{
    if (!chati_reaction_name_valid(name))
        return chati_fail(CHAT_ERR_INVALID_REACTION, "not an emoji name");
    chat_channel *c = NULL;
    chat_message *m = NULL;
    chat_err rv = visible_message(ctx, s, channel_id, ts, &c, &m);
    if (rv != CHAT_OK)
        return rv;
    if (c->is_archived)
        rv = chati_fail(CHAT_ERR_IS_ARCHIVED, "the channel is archived");
    chat_event *ev = NULL;
    if (rv == CHAT_OK &&
        (ev = chati_event_new(add ? CHAT_EVENT_REACTION_ADDED : CHAT_EVENT_REACTION_REMOVED)) ==
            NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "event");
    if (rv == CHAT_OK) {
        memcpy(ev->user_id, s->user_id, CHAT_ID_SIZE);
        ev->channel_type = c->type;
        ev->reaction = chat_strdup(name);
        rv = add ? ctx->messages->add_reaction(ctx->messages_impl, m->channel, m->ts, name,
                                               s->user_id, chati_outbox_message_event, ev)
                 : ctx->messages->remove_reaction(ctx->messages_impl, m->channel, m->ts, name,
                                                  s->user_id, chati_outbox_message_event, ev);
        if (rv == CHAT_OK && ctx->outbox)
            chati_outbox_kick(ctx->outbox);
    }
    chati_event_free(ev);
    chat_message_free(m);
    chat_channel_free(c);
    return rv;
}

chat_err chat_reaction_add(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                           const char *ts, const char *name)
{
    MESSAGE_COMMON(ctx, s);
    return react(ctx, s, channel_id, ts, name, true);
}

chat_err chat_reaction_remove(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                              const char *ts, const char *name)
{
    MESSAGE_COMMON(ctx, s);
    return react(ctx, s, channel_id, ts, name, false);
}

/* Checks the shared arguments of history and replies. */
static chat_err range_args(const char *latest, const char *oldest, int *limit,
                           char nlatest[CHAT_TS_SIZE], char noldest[CHAT_TS_SIZE])
{
    chat_err rv = chati_page_limit(*limit, limit);
    nlatest[0] = noldest[0] = '\0';
    if (rv == CHAT_OK && latest && *latest)
        rv = norm_ts(latest, nlatest, "latest");
    if (rv == CHAT_OK && oldest && *oldest)
        rv = norm_ts(oldest, noldest, "oldest");
    return rv;
}

chat_err chat_message_history(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                              const char *latest, const char *oldest, bool inclusive, int limit,
                              const char *cursor, chat_list **out)
{
    MESSAGE_COMMON(ctx, s);
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    *out = NULL;
    char nl[CHAT_TS_SIZE], no[CHAT_TS_SIZE];
    chat_channel *c = NULL;
    chat_err rv = range_args(latest, oldest, &limit, nl, no);
    if (rv == CHAT_OK)
        rv = chati_channel_visible(ctx, s, channel_id, &c, NULL);
    if (rv == CHAT_OK)
        rv = chati_may_read_history(s, c);
    if (rv == CHAT_OK)
        rv = ctx->messages->history(ctx->messages_impl, c->id, nl, no, inclusive, limit,
                                    cursor && *cursor ? cursor : NULL, out);
    chat_channel_free(c);
    return rv;
}

chat_err chat_message_replies(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                              const char *thread_ts, const char *latest, const char *oldest,
                              bool inclusive, int limit, const char *cursor, chat_list **out)
{
    MESSAGE_COMMON(ctx, s);
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    *out = NULL;
    char nl[CHAT_TS_SIZE], no[CHAT_TS_SIZE], nt[CHAT_TS_SIZE];
    chat_channel *c = NULL;
    chat_err rv = range_args(latest, oldest, &limit, nl, no);
    if (rv == CHAT_OK)
        rv = norm_ts(thread_ts, nt, "ts");
    if (rv == CHAT_OK)
        rv = chati_channel_visible(ctx, s, channel_id, &c, NULL);
    if (rv == CHAT_OK)
        rv = chati_may_read_history(s, c);
    if (rv == CHAT_OK) {
        rv = ctx->messages->replies(ctx->messages_impl, c->id, nt, nl, no, inclusive, limit,
                                    cursor && *cursor ? cursor : NULL, out);
        if (chati_not_found(rv))
            rv = chati_fail(CHAT_ERR_THREAD_NOT_FOUND, "no thread %s", nt);
    }
    chat_channel_free(c);
    return rv;
}

chat_err chat_reaction_list(chat_ctx *ctx, const chat_session *s, const char *user_id,
                            const char *cursor, int limit, chat_list **out)
{
    MESSAGE_COMMON(ctx, s);
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    *out = NULL;
    if (!CHATI_HAS(ctx->messages, reacted, CHAT_STORE_V6))
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "the message store cannot list reactions");
    const char *user = user_id && *user_id ? user_id : s->user_id;
    chat_err rv = chati_page_limit(limit, &limit);
    /* Someone of the caller's workspace. */
    chat_user *u = NULL;
    if (rv == CHAT_OK && strcmp(user, s->user_id) != 0) {
        rv = chati_id_valid(user, 'U') || chati_id_valid(user, 'W') ? chati_user_get(ctx, user, &u)
                                                                    : CHAT_ERR_NOT_FOUND;
        if (chati_not_found(rv) || (rv == CHAT_OK && strcmp(u->team_id, s->team_id) != 0))
            rv = chati_fail(CHAT_ERR_USER_NOT_FOUND, "no user %.30s here", user);
        chat_user_free(u);
    }
    /* Of the channels the caller may read. */
    char(*ids)[CHAT_ID_SIZE] = NULL;
    size_t n = 0;
    if (rv == CHAT_OK)
        rv = chati_readable_channels(ctx, s, &ids, &n);
    if (rv == CHAT_OK)
        rv = ctx->messages->reacted(ctx->messages_impl, user, (const char(*)[CHAT_ID_SIZE])ids,
                                    n, cursor && *cursor ? cursor : NULL, limit, out);
    chat_free(ids);
    return rv;
}

chat_err chat_message_search(chat_ctx *ctx, const chat_session *s, const char *query,
                             const char *cursor, int limit, chat_list **out)
{
    MESSAGE_COMMON(ctx, s);
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is required");
    *out = NULL;
    if (!CHATI_HAS(ctx->messages, search, CHAT_STORE_V1))
        return chati_fail(CHAT_ERR_NOT_SUPPORTED, "the message store cannot search");
    if (query == NULL || query[strspn(query, " \t\r\n")] == '\0')
        return chati_fail(CHAT_ERR_NO_QUERY, "the search query is empty");
    chat_err rv = chati_check_text(query, MAX_QUERY_CHARS, CHAT_ERR_TOO_LONG, "query");
    if (rv == CHAT_OK)
        rv = chati_page_limit(limit, &limit);
    char(*ids)[CHAT_ID_SIZE] = NULL;
    size_t n = 0;
    if (rv == CHAT_OK)
        rv = chati_readable_channels(ctx, s, &ids, &n);
    if (rv == CHAT_OK)
        rv = ctx->messages->search(ctx->messages_impl, query, (const char(*)[CHAT_ID_SIZE])ids,
                                   n, cursor && *cursor ? cursor : NULL, limit, out);
    chat_free(ids);
    return rv;
}
