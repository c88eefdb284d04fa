/*
 * chat-<service>d - one libchat service behind RPC, for the distributed
 * deployment: chat-authd, chat-userd, chat-channeld, chat-messaged and
 * chat-presenced are this file built with CHAT_SERVICE set to the service.
 *
 * It opens only its own backends (the others are reached over RPC, their
 * addresses from rpc.<service> keys or discovery), serves its methods, keeps
 * its registration in discovery fresh, and on SIGTERM lets in-flight
 * requests finish before it exits. All of that is libchat's
 * (include/chat/server.h); this file only wires configuration to it.
 */
#include <stdio.h>

#include <chat/server.h>

#include "server_main.h"

#ifndef CHAT_SERVICE
#error "build with -DCHAT_SERVICE=\"auth\" (or user, channel, message, presence)"
#endif

#define PROG "chat-" CHAT_SERVICE "d"

static const srv_flag flags[] = {
    {"--listen", "server.listen", "RPC address to serve on, e.g. tcp://127.0.0.1:7101"},
    {"--advertise", "server.advertise", "address others reach it at [listen]"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    srv_block_signals();
    chat_config *cfg = NULL;
    srv_parse(argc, argv, PROG, "The " CHAT_SERVICE " service of a distributed libchat.", flags,
              &cfg);
    if (chat_service_config(cfg, CHAT_SERVICE) != CHAT_OK)
        srv_die(PROG, "%s", chat_last_errmsg());
    const char *listen = chat_config_get(cfg, "server.listen");
    if (listen == NULL)
        srv_die(PROG, "--listen tcp://HOST:PORT is required");
    char err[512];
    chat_ctx *ctx = NULL;
    if (chat_open(&ctx, cfg, err, sizeof err) != CHAT_OK)
        srv_die(PROG, "%s", err);
    chat_service *svc = NULL;
    if (chat_service_start(ctx, CHAT_SERVICE, listen, chat_config_get(cfg, "server.advertise"),
                           &svc) != CHAT_OK)
        srv_die(PROG, "%s", chat_last_errmsg());
    printf("%s %s serving on %s\n", PROG, chat_version(), chat_service_url(svc));
    fflush(stdout);

    int sig = srv_wait_signal();
    fprintf(stderr, "%s: signal %d, finishing in-flight requests\n", PROG, sig);
    chat_service_stop(svc);
    chat_close(ctx);
    chat_config_free(cfg);
    return 0;
}
