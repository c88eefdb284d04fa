/* libchat/domain/message_internal.h - posting shared by messages and files. */
#ifndef CHATI_MESSAGE_INTERNAL_H
#define CHATI_MESSAGE_INTERNAL_H

#include "domain/ctx.h"

/* chat_message_post() after the common checks, optionally carrying one file. */
chat_err chati_message_post(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                            const char *text, const char *thread_ts, const char *client_msg_id,
                            unsigned flags, const char *file_id, chat_message **out);

#endif
