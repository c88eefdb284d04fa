/*
 * servers/common/server_main.h - what every server executable shares: reading
 * configuration from a file, the environment and flags (in that order, later
 * wins), logging, and waiting for SIGINT/SIGTERM.
 */
#ifndef CHAT_SERVER_MAIN_H
#define CHAT_SERVER_MAIN_H

#include <chat/chat.h>

/* A flag the program understands besides the common ones. */
typedef struct srv_flag {
    const char *name;       /* "--listen" */
    const char *key;        /* configuration key it sets, "server.listen" */
    const char *help;
} srv_flag;

/* Parses argv: --config FILE, --data DIR (data_dir), --set KEY=VALUE, -h, and
 * the program's flags. Environment CHAT_* applies before flags. Exits with a
 * message on bad usage. *cfg is new (free with chat_config_free). */
void srv_parse(int argc, char **argv, const char *prog, const char *summary,
               const srv_flag *flags, chat_config **cfg);

/* A key's value, or dflt. */
const char *srv_get(const chat_config *cfg, const char *key, const char *dflt);

/* Blocks until SIGINT or SIGTERM (which must be blocked in every thread:
 * call srv_block_signals() first thing in main). */
void srv_block_signals(void);
int srv_wait_signal(void);

/* Prints "prog: message" to stderr and exits 1. */
void srv_die(const char *prog, const char *fmt, ...) CHAT_PRINTF(2, 3);

#endif
