/* What the load generator's --drill mode needs beside the normal run: an
 * error window (when the first and the last client-visible error of the run
 * happened) and a reconnecting thread for WebSockets a dead gateway dropped.
 * Both are thread-safe. */
#ifndef LG_DRILL_H
#define LG_DRILL_H

#include <stdbool.h>
#include <stdint.h>

typedef struct lg_errwin {
    uint64_t first_ns, last_ns; /* CLOCK_MONOTONIC; 0 while there was none */
    uint64_t end_ns;            /* the last error or the last recovery after one */
    uint64_t count;
    char first[256];
} lg_errwin;

/* Records one error (a refused or failed request, a lost connection) at t_ns. */
void lg_errwin_note(uint64_t t_ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A request or a connection that had failed succeeded at t_ns: the window
 * lasts until the last such recovery (or the last error, if later). */
void lg_errwin_recovered(uint64_t t_ns);
/* A copy of the window so far. */
lg_errwin lg_errwin_get(void);

/* fn(arg) is called on the reconnecting thread until it returns true, every
 * retry_ms; a false return is an error the caller has noted. */
typedef bool (*lg_reconnect_fn)(void *arg);
void lg_reconnect_start(lg_reconnect_fn fn, int retry_ms);
void lg_reconnect_push(void *arg);
/* Stops the thread (what is queued is dropped); joins it. */
void lg_reconnect_stop(void);
/* How many reconnections succeeded. */
uint64_t lg_reconnect_count(void);

#endif
