/*
 * chatd - the whole chat server in one process: the gateway and every service,
 * calling libchat directly, on the embedded backends in one data directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gateway.h"
#include "server_main.h"

static const srv_flag flags[] = {
    {"--listen", "server.listen", "address to serve on [http://127.0.0.1:8080]"},
    {"--public-url", "gateway.public_url", "URL clients use to reach this server [listen]"},
    {"--tls-cert", "server.tls_cert", "PEM certificate: serve HTTPS/WSS (with --tls-key)"},
    {"--tls-key", "server.tls_key", "PEM private key"},
    {"--web-root", "server.web_root", "directory of the web client [built in path]"},
    {NULL, NULL, NULL},
};

/* The web client's directory: --web-root (an empty value turns it off), else
 * the installed copy, else the checkout's (compile definitions from
 * servers/CMakeLists.txt). */
static const char *web_root(const char *configured)
{
    struct stat st;
    if (configured)
        return *configured ? configured : NULL;
#ifdef CHAT_WEB_ROOT_INSTALLED
    if (stat(CHAT_WEB_ROOT_INSTALLED "/index.html", &st) == 0)
        return CHAT_WEB_ROOT_INSTALLED;
#endif
#ifdef CHAT_WEB_ROOT
    if (stat(CHAT_WEB_ROOT "/index.html", &st) == 0)
        return CHAT_WEB_ROOT;
#endif
    (void)st;
    return NULL;
}

int main(int argc, char **argv)
{
    srv_block_signals();
    chat_config *cfg = NULL;
    srv_parse(argc, argv, "chatd", "The chat server in one process, embedded backends.", flags,
              &cfg);
    const char *listen = srv_get(cfg, "server.listen", "http://127.0.0.1:8080");
    char err[512];
    chat_config_set(cfg, "gateway.public_url", srv_get(cfg, "gateway.public_url", listen), err,
                    sizeof err);
    chat_ctx *ctx = NULL;
    if (chat_open(&ctx, cfg, err, sizeof err) != CHAT_OK)
        srv_die("chatd", "%s", err);
    chati_svc *svc = NULL;
    if (chati_svc_direct(ctx, &svc) != CHAT_OK)
        srv_die("chatd", "%s", chat_errmsg(ctx));
    gw_config gc = {0};
    gc.listen = listen;
    gc.public_url = chat_config_get(cfg, "gateway.public_url");
    gc.tls_cert = chat_config_get(cfg, "server.tls_cert");
    gc.tls_key = chat_config_get(cfg, "server.tls_key");
    gc.web_root = web_root(chat_config_get(cfg, "server.web_root"));
    const char *rate = chat_config_get(cfg, "ratelimit.per_sec");
    if (rate)
        gc.rate_per_sec = atof(rate);
    const char *burst = chat_config_get(cfg, "ratelimit.burst");
    if (burst)
        gc.rate_burst = atof(burst);
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
