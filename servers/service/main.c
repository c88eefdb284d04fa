/*
 * chat-<service>d - one libchat service behind nng RPC, for the distributed
 * deployment: chat-authd, chat-userd, chat-channeld, chat-messaged and
 * chat-presenced are this file built with CHAT_SERVICE set to the service.
 *
 * It opens only its own backends (the others are reached over RPC, their
 * addresses from rpc.<service> keys or discovery), serves its methods, keeps
 * its announcement in discovery fresh, and on SIGTERM lets in-flight requests
 * finish before it exits.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <chat/backend/discovery.h>

#include "domain/ctx.h"
#include "rpc/server.h"
#include "server_main.h"

#ifndef CHAT_SERVICE
#error "build with -DCHAT_SERVICE=\"auth\" (or user, channel, message, presence)"
#endif

#define PROG "chat-" CHAT_SERVICE "d"
#define ANNOUNCE_TTL_S 15

/* The backends each service owns; everything else is "none" here. */
static const struct {
    const char *service;
    const char *keys[4];
} owned[] = {
    {"auth", {"store.auth", NULL}},
    {"user", {"store.user", "broker", NULL}},
    {"channel", {"store.channel", "broker", NULL}},
    {"message", {"store.message", "broker", "blob", NULL}},
    {"presence", {"presence", "broker", NULL}},
};

static const char *const backend_keys[] = {"store.auth", "store.user", "store.channel",
                                           "store.message", "broker", "blob", "presence"};

static void keep_only_own_backends(chat_config *cfg)
{
    char err[256];
    for (size_t i = 0; i < CHATI_ARRAY_LEN(backend_keys); i++) {
        bool mine = false;
        for (size_t j = 0; j < CHATI_ARRAY_LEN(owned); j++)
            if (strcmp(owned[j].service, CHAT_SERVICE) == 0)
                for (size_t k = 0; owned[j].keys[k]; k++)
                    mine = mine || strcmp(owned[j].keys[k], backend_keys[i]) == 0;
        if (!mine)
            chat_config_set(cfg, backend_keys[i], "none", err, sizeof err);
    }
}

static const srv_flag flags[] = {
    {"--listen", "server.listen", "RPC address to serve on, e.g. tcp://127.0.0.1:7101"},
    {"--advertise", "server.advertise", "address others reach it at [listen]"},
    {NULL, NULL, NULL},
};

typedef struct announcer {
    chat_ctx *ctx;
    const char *address;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
} announcer;

static void *announce_main(void *arg)
{
    announcer *a = arg;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        pthread_mutex_unlock(&a->mu);
        (void)a->ctx->discovery->announce(a->ctx->discovery_impl, CHAT_SERVICE, a->address,
                                          ANNOUNCE_TTL_S);
        pthread_mutex_lock(&a->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ANNOUNCE_TTL_S / 3;
        pthread_cond_timedwait(&a->cv, &a->mu, &ts);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int main(int argc, char **argv)
{
    srv_block_signals();
    chat_config *cfg = NULL;
    srv_parse(argc, argv, PROG, "The " CHAT_SERVICE " service of a distributed libchat.", flags,
              &cfg);
    keep_only_own_backends(cfg);
    const char *listen = chat_config_get(cfg, "server.listen");
    if (listen == NULL)
        srv_die(PROG, "--listen tcp://HOST:PORT is required");
    char err[512];
    chat_ctx *ctx = NULL;
    if (chat_open(&ctx, cfg, err, sizeof err) != CHAT_OK)
        srv_die(PROG, "%s", err);
    chati_rpc_server *srv = NULL;
    if (chati_rpc_server_start(ctx, listen, 64, &srv) != CHAT_OK)
        srv_die(PROG, "%s", chat_errmsg(ctx));
    announcer a = {ctx, srv_get(cfg, "server.advertise", chati_rpc_server_url(srv)),
                   PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    pthread_t announce_thread;
    /* A read-only discovery (no announce) leaves announcing to another system. */
    bool announcing = ctx->discovery && CHATI_HAS(ctx->discovery, announce, CHAT_DISCOVERY_V1) &&
                      pthread_create(&announce_thread, NULL, announce_main, &a) == 0;
    printf("%s %s serving on %s\n", PROG, chat_version(), chati_rpc_server_url(srv));
    fflush(stdout);

    int sig = srv_wait_signal();
    fprintf(stderr, "%s: signal %d, finishing in-flight requests\n", PROG, sig);
    if (announcing) {
        pthread_mutex_lock(&a.mu);
        a.stop = true;
        pthread_cond_signal(&a.cv);
        pthread_mutex_unlock(&a.mu);
        pthread_join(announce_thread, NULL);
        if (CHATI_HAS(ctx->discovery, withdraw, CHAT_DISCOVERY_V1))
            (void)ctx->discovery->withdraw(ctx->discovery_impl, CHAT_SERVICE, a.address);
    }
    chati_rpc_server_stop(srv);
    chat_close(ctx);
    chat_config_free(cfg);
    return 0;
}
