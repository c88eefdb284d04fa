/* A blocking JSON-over-HTTP client for the load generator's setup (sign up,
 * create, join, rtm.connect) and its --http senders: one keep-alive
 * connection per lg_http, used by one thread at a time. */
#ifndef LG_HTTP_H
#define LG_HTTP_H

#include <jansson.h>

typedef struct lg_http lg_http;

/* base: "http://host:port". NULL on failure, with the reason in err. */
lg_http *lg_http_new(const char *base, char *err, size_t errlen);
void lg_http_free(lg_http *c);
/* How long one call may take, connect included [30000]. */
void lg_http_set_timeout(lg_http *c, int ms);

/* POSTs body (JSON text) to /api/<method> with an optional bearer token and
 * returns the parsed reply (the caller json_decref()s it), or NULL with the
 * reason in err. Reconnects once if the kept-alive connection went away. A
 * reply with "ok":false is returned as is: the caller looks at it. */
json_t *lg_http_call(lg_http *c, const char *method, const char *token, const char *body,
                     char *err, size_t errlen);

#endif
