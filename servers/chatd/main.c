/*
 * chatd - the whole chat server in one process: the gateway and every service,
 * calling libchat directly, on the embedded backends in one data directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "gateway_setup.h"

int main(int argc, char **argv)
{
    srv_block_signals();
    chat_config *cfg = NULL;
    srv_parse(argc, argv, "chatd", "The chat server in one process, embedded backends.", gw_setup_flags,
              &cfg);
    /* Before chat_open: services build permalinks and upload URLs from
     * gateway.public_url, which this defaults. */
    gw_config gc;
    gw_setup_config(cfg, &gc);
    char err[512];
    chat_ctx *ctx = NULL;
    if (chat_open(&ctx, cfg, err, sizeof err) != CHAT_OK)
        srv_die("chatd", "%s", err);
    chati_svc *svc = NULL;
    if (chati_svc_direct(ctx, &svc) != CHAT_OK)
        srv_die("chatd", "%s", chat_errmsg(ctx));
    gw *g = NULL;
    if (gw_start(&gc, svc, ctx, &g, err, sizeof err) != CHAT_OK)
        srv_die("chatd", "%s", err);
    printf("chatd %s listening on %s (data in %s)\n", chat_version(), gw_url(g),
           srv_get(cfg, "data_dir", "./chat-data"));
    fflush(stdout);
    int sig = srv_wait_signal();
    fprintf(stderr, "chatd: signal %d, shutting down\n", sig);
    gw_stop(g);
    chati_svc_close(svc);
    chat_close(ctx);
    chat_config_free(cfg);
    return 0;
}
