/* tests/bench/lg_post.h - chat_loadgen's senders' HTTP client: one
 * keep-alive connection on a plain socket, a blocking request at a time on
 * the caller's thread (nng's client hands each request across its own
 * threads, which on two cores shows up in the latencies measured). */
#ifndef LG_POST_H
#define LG_POST_H

#include <stddef.h>

#include <jansson.h>

typedef struct lg_post lg_post;

/* For http://HOST:PORT URLs only (NULL with err set for others). */
lg_post *lg_post_new(const char *url, char *err, size_t errlen);
void lg_post_free(lg_post *p);

/* POSTs body (JSON) to /api/METHOD with the token; the reply parsed, or
 * NULL with err set. Reconnects once when the kept connection was closed. */
json_t *lg_post_call(lg_post *p, const char *method, const char *token, const char *body,
                     char *err, size_t errlen);

#endif
