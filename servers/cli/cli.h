/*
 * servers/cli/cli.h - pieces of the `chat` command-line client shared by its
 * files: errors, the saved token, the Web API over nng's HTTP client and the
 * event stream over nng's WebSocket dialer.
 *
 * The client is one thread; nng's own threads only run inside the calls below,
 * which wait for them. Every function that can fail either returns a status
 * the caller must look at or ends the process with cli_die() (stated per
 * function).
 */
#ifndef CHAT_CLI_H
#define CHAT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <chat/chat.h>          /* chat_version() */

#define CLI_DEFAULT_SERVER "http://127.0.0.1:8080"

/* Exit statuses: 1 for every failure, 2 for a command line we cannot use. */
#define CLI_EXIT_ERROR 1
#define CLI_EXIT_USAGE 2

/* What every command needs. */
typedef struct cli {
    char *server;               /* base URL, no trailing '/' */
    char *token;                /* NULL until cli_need_token() or a login */
    json_t *names;              /* user id -> name (users.info cache) */
    json_t *files;              /* file id -> name (files.info cache) */
} cli;

/* ---- errors (util.c) ---- */

/* Prints "chat: CODE: DETAIL" to stderr and exits with status 1. */
_Noreturn void cli_die(const char *code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "chat: MESSAGE" to stderr (a note; the command goes on). */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Out of memory ends the process (a CLI has nothing better to do). */
void *cli_xmalloc(size_t n);
char *cli_xstrdup(const char *s);
/* An allocated printf (free with free()). */
char *cli_xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growing string: start from {0}; data is NUL terminated once anything was
 * added (even "" of length 0), NULL before. Free data with cli_buf_free (or
 * free()). Out of memory ends the process. */
typedef struct cli_buf {
    char *data;
    size_t len;
    size_t cap;
} cli_buf;
void cli_buf_add(cli_buf *b, const void *data, size_t len);
void cli_buf_printf(cli_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_buf_free(cli_buf *b);

/* ---- the saved token and passwords (util.c) ---- */

/* Where the token lives: $XDG_CONFIG_HOME/libchat/token, else
 * ~/.config/libchat/token. Free with free(); NULL when neither variable is set. */
char *cli_token_path(void);

/* The token: $CHAT_TOKEN, else the saved file. Dies with not_authed when there
 * is none. Sets c->token. */
void cli_need_token(cli *c);

/* Saves token (mode 0600, written to a temporary file and renamed). Returns
 * the path (free with free()); dies on failure. */
char *cli_token_save(const char *token);

/* The password: $CHAT_PASSWORD, else read from the terminal without echo
 * (twice when confirm). Dies when neither is possible. Free with free() after
 * wiping it. */
char *cli_password(bool confirm);

/* ---- the Web API (net.c) ---- */

/*
 * Calls POST <server>/api/<method> with args as a JSON body (args is
 * consumed; NULL sends an empty object) and the token when c->token is set.
 * HTTP 429 is retried after Retry-After, a few times. Returns the decoded
 * reply, ok or not (the caller frees it with json_decref); on a transport
 * failure or a reply that is not a JSON object it dies (connection_failed,
 * invalid_response).
 */
json_t *cli_api_try(cli *c, const char *method, json_t *args);

/* As cli_api_try, but a reply with "ok": false ends the process with
 * "chat: <error>: <detail>". */
json_t *cli_api(cli *c, const char *method, json_t *args);

/* Dies with the error of a reply that has "ok": false. */
_Noreturn void cli_die_reply(const char *method, json_t *reply);

/*
 * POSTs raw bytes to an absolute URL (an upload URL from the server). The
 * token goes along only when url is on c->server's scheme, host and port.
 * Returns the HTTP status; *body (may be NULL) gets the reply body, NUL
 * terminated, free with free(). Dies on a transport failure.
 */
int cli_http_post_bytes(cli *c, const char *url, const char *content_type, const void *data,
                        size_t len, char **body);

/* ---- the event stream (net.c) ---- */

typedef struct cli_ws cli_ws;

/* Connects to a ws:// or wss:// URL for text frames. Returns 0 and *out, or an
 * nng error number with no connection. */
int cli_ws_open(const char *url, cli_ws **out);

/*
 * Waits up to timeout_ms for the next whole JSON frame. Returns 0 and *out (a
 * new reference), NNG_ETIMEDOUT when nothing complete arrived in time (call
 * again: what arrived so far is kept), or another nng error when the
 * connection is gone. Frames that are not JSON are skipped.
 */
int cli_ws_recv(cli_ws *w, int timeout_ms, json_t **out);

/* How many frames so far were skipped as not JSON (e.g. cut short). */
size_t cli_ws_dropped(const cli_ws *w);

/* Sends one text frame. Returns 0 or an nng error number. */
int cli_ws_send(cli_ws *w, const char *text);

/* Closes and frees; NULL is a no-op. */
void cli_ws_close(cli_ws *w);

#endif
