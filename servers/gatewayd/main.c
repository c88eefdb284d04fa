/*
 * chat-gateway - the HTTP/WebSocket front door of the distributed deployment.
 * Every API method goes to its service over RPC (addresses from rpc.<service>
 * keys or discovery); events come from the shared broker. No business logic.
 */
#include <stdio.h>

#include <chat/gateway.h>

#include "gateway_setup.h"

int main(int argc, char **argv)
{
    srv_block_signals();
    chat_config *cfg = NULL;
    srv_parse(argc, argv, "chat-gateway",
              "The HTTP/WebSocket gateway in front of the chat-*d services.", gw_setup_flags, &cfg);
    /* Before chat_open: services build permalinks and upload URLs from
     * gateway.public_url, which this defaults. */
    chat_gateway_config gc;
    gw_setup_config(cfg, &gc);
    gc.remote = true;
    char err[512];
    /* The gateway keeps no data: only the broker (events) and discovery. */
    static const char *const none[] = {"store.auth", "store.user", "store.channel",
                                       "store.message", "blob", "presence"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        chat_config_set(cfg, none[i], "none", err, sizeof err);
    chat_ctx *ctx = NULL;
    if (chat_open(&ctx, cfg, err, sizeof err) != CHAT_OK)
        srv_die("chat-gateway", "%s", err);
    chat_gateway *g = NULL;
    if (chat_gateway_start(&gc, ctx, &g, err, sizeof err) != CHAT_OK)
        srv_die("chat-gateway", "%s", err);
    printf("chat-gateway %s listening on %s\n", chat_version(), chat_gateway_url(g));
    fflush(stdout);
    int sig = srv_wait_signal();
    fprintf(stderr, "chat-gateway: signal %d, shutting down\n", sig);
    chat_gateway_stop(g);
    chat_close(ctx);
    chat_config_free(cfg);
    return 0;
}
