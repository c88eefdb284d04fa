/* libchat/domain/message_internal.h - posting shared by messages and files. */
#ifndef CHATI_MESSAGE_INTERNAL_H
#define CHATI_MESSAGE_INTERNAL_H

#include "domain/ctx.h"

/* chat_message_post_opts() after the common checks, optionally carrying one
 * file. o may be NULL. */
chat_err chati_message_post(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                            const char *text, const chat_post_opts *o, const char *file_id,
                            chat_message **out);
/* As s (a bot answering a person), where member may write: response_url. */
chat_err chati_message_post_for(chat_ctx *ctx, const chat_session *s,
                                const chat_session *member, const char *channel_id,
                                const char *text, const chat_post_opts *o, chat_message **out);
/* A notice in a channel, from s, with a subtype of Slack's ("channel_topic",
 * ...); once per client_msg_id (a duplicate is CHAT_OK). */
chat_err chati_message_post_notice(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                                   const char *subtype, const char *text,
                                   const char *client_msg_id);
/* An ephemeral message from s to reader, where the reader is (s need not be). */
chat_err chati_message_post_ephemeral_for(chat_ctx *ctx, const chat_session *s,
                                          const chat_session *reader, const char *channel_id,
                                          const char *text, const chat_post_opts *opts);

/* (message_rich.c) Checks o's blocks, attachments and metadata and sets them
 * on m, compacted: a member given replaces m's ("" or "[]" removes it), a
 * NULL one keeps it. identity: also username, icons and the unfurl flags,
 * which a post sets and an edit keeps. Errors as chat_post_opts says. */
chat_err chati_message_set_rich(chat_message *m, const chat_post_opts *o, bool identity);

/* The text Slack derives from blocks (a JSON array) for a post without text:
 * the text of headers, sections, fields, context and rich text, a line each,
 * cut at CHAT_MAX_TEXT_CHARS; Slack's placeholder when there is none. */
chat_err chati_text_from_blocks(const char *blocks, char **out);

#endif
