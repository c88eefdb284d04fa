#include "server_main.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void srv_die(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void usage(const char *prog, const char *summary, const srv_flag *flags)
{
    printf("usage: %s [options]\n%s\n\n", prog, summary);
    printf("  --config FILE      read \"key = value\" settings (see include/chat/config.h)\n");
    printf("  --data DIR         data directory for the embedded backends\n");
    printf("  --set KEY=VALUE    set any configuration key\n");
    for (const srv_flag *f = flags; f && f->name; f++)
        printf("  %-18s %s\n", f->name, f->help);
    printf("Every key can also come from the environment: CHAT_STORE_MESSAGE=... for "
           "store.message.\n");
}

static void set(chat_config *cfg, const char *prog, const char *key, const char *value)
{
    char err[256];
    if (chat_config_set(cfg, key, value, err, sizeof err) != CHAT_OK)
        srv_die(prog, "%s", err);
}

void srv_parse(int argc, char **argv, const char *prog, const char *summary,
               const srv_flag *flags, chat_config **out)
{
    chat_config *cfg = NULL;
    char err[256];
    if (chat_config_new(&cfg) != CHAT_OK)
        srv_die(prog, "out of memory");
    /* A config file first, then the environment, then flags. */
    for (int i = 1; i < argc - 1; i++)
        if (strcmp(argv[i], "--config") == 0 &&
            chat_config_load_file(cfg, argv[i + 1], err, sizeof err) != CHAT_OK)
            srv_die(prog, "%s", err);
    if (chat_config_load_env(cfg, err, sizeof err) != CHAT_OK)
        srv_die(prog, "%s", err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(prog, summary, flags);
            exit(0);
        }
        if (i + 1 >= argc)
            srv_die(prog, "%s needs a value (try --help)", a);
        const char *v = argv[++i];
        if (strcmp(a, "--config") == 0)
            continue;
        if (strcmp(a, "--data") == 0) {
            set(cfg, prog, "data_dir", v);
            continue;
        }
        if (strcmp(a, "--set") == 0) {
            const char *eq = strchr(v, '=');
            if (eq == NULL)
                srv_die(prog, "--set wants KEY=VALUE");
            char key[128];
            snprintf(key, sizeof key, "%.*s", (int)(eq - v), v);
            set(cfg, prog, key, eq + 1);
            continue;
        }
        const srv_flag *f = flags;
        for (; f && f->name && strcmp(f->name, a) != 0; f++)
            ;
        if (f == NULL || f->name == NULL)
            srv_die(prog, "unknown option %s (try --help)", a);
        set(cfg, prog, f->key, v);
    }
    *out = cfg;
}

const char *srv_get(const chat_config *cfg, const char *key, const char *dflt)
{
    const char *v = chat_config_get(cfg, key);
    return v && *v ? v : dflt;
}

static sigset_t stop_signals;

void srv_block_signals(void)
{
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    /* Threads started later inherit the mask, so only sigwait sees them. */
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int srv_wait_signal(void)
{
    int sig = 0;
    sigwait(&stop_signals, &sig);
    return sig;
}
