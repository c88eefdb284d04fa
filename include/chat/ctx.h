/*
 * chat/ctx.h - opening and closing a libchat instance.
 *
 * A chat_ctx owns the backends named by its configuration and the event
 * consumers that keep derived state (unread counts, last activity). It is safe
 * to share across threads: every function taking a chat_ctx may be called
 * concurrently, except chat_close().
 */
#ifndef CHAT_CTX_H
#define CHAT_CTX_H

#include <chat/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opens the backends named in cfg (which is copied) and starts the event
 * consumers. On failure *out is NULL and errbuf (may be NULL) says why. */
CHAT_API chat_err chat_open(chat_ctx **out, const chat_config *cfg, char *errbuf,
                            size_t errlen);

/* Stops consumers, waits for in-flight events, closes the backends, frees ctx.
 * No other call on ctx may be running or start. NULL is a no-op. */
CHAT_API void chat_close(chat_ctx *ctx);

/* Detail of the last error the calling thread got from libchat (any call,
 * on any context): the detail is kept per thread, because a context is
 * shared by many threads at once. Valid until this thread's next call into
 * libchat. Never NULL ("" when none). */
CHAT_API const char *chat_last_errmsg(void);

/* The same as chat_last_errmsg(); ctx is not used. Kept for source
 * compatibility: its signature suggested a per-context detail it never had. */
CHAT_API const char *chat_errmsg(const chat_ctx *ctx)
    CHAT_DEPRECATED("the detail is per thread: use chat_last_errmsg()");

/* Waits until every event published so far has been processed by the consumers
 * in this process (unread counts, last activity, subscribers). For tests and
 * orderly shutdown. CHAT_ERR_TIMEOUT after timeout_ms. */
CHAT_API chat_err chat_drain(chat_ctx *ctx, int timeout_ms);

/* libchat's version, "MAJOR.MINOR.PATCH". */
CHAT_API const char *chat_version(void);

#ifdef __cplusplus
}
#endif
#endif
