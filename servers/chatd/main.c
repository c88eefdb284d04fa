/*
 * chatd - the whole chat server in one process: the gateway and every service,
 * calling libchat directly, on the embedded backends in one data directory.
 */
#include <stdio.h>

#include <chat/config.h>
#include <chat/gateway.h>

#include "gateway_setup.h"

int main(int argc, char **argv)
{
    srv_block_signals();
    chat_config *cfg = NULL;
    srv_parse(argc, argv, "chatd", "The chat server in one process, embedded backends.", gw_setup_flags,
              &cfg);
    /* Before chat_open: services build permalinks and upload URLs from
     * gateway.public_url, which this defaults. */
    chat_gateway_config gc;
    gw_setup_config(cfg, &gc);
    /* One process owns the data directory: its SQLite files keep their locks
     * (a second chatd on the same directory is refused, and about a tenth of
     * the CPU per durable send is saved). "shared" lets other processes read
     * them meanwhile. */
    if (chat_config_get(cfg, "sqlite.locking") == NULL)
        chat_config_set(cfg, "sqlite.locking", "exclusive", NULL, 0);
    char err[512];
    chat_ctx *ctx = NULL;
    if (chat_open(&ctx, cfg, err, sizeof err) != CHAT_OK)
        srv_die("chatd", "%s", err);
    chat_gateway *g = NULL;
    if (chat_gateway_start(&gc, ctx, &g, err, sizeof err) != CHAT_OK)
        srv_die("chatd", "%s", err);
    printf("chatd %s listening on %s (data in %s)\n", chat_version(), chat_gateway_url(g),
           srv_get(cfg, "data_dir", "./chat-data"));
    fflush(stdout);
    int sig = srv_wait_signal();
    fprintf(stderr, "chatd: signal %d, shutting down\n", sig);
    chat_gateway_stop(g);
    chat_close(ctx);
    chat_config_free(cfg);
    return 0;
}
