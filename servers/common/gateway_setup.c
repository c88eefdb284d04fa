#include "gateway_setup.h"

#include <stdlib.h>
#include <sys/stat.h>

const srv_flag gw_setup_flags[] = {
    {"--listen", "server.listen", "address to serve on [http://127.0.0.1:8080]"},
    {"--public-url", "gateway.public_url", "URL clients use to reach this server [listen]"},
    {"--tls-cert", "server.tls_cert", "PEM certificate: serve HTTPS/WSS (with --tls-key)"},
    {"--tls-key", "server.tls_key", "PEM private key"},
    {"--web-root", "server.web_root", "directory of the web client ('' for none) [built in]"},
    {"--io-threads", "server.io_threads", "threads reading and writing sockets [1]"},
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

void gw_setup_config(chat_config *cfg, chat_gateway_config *gc)
{
    char err[256];
    const char *listen = srv_get(cfg, "server.listen", "http://127.0.0.1:8080");
    chat_config_set(cfg, "gateway.public_url", srv_get(cfg, "gateway.public_url", listen), err,
                    sizeof err);
    *gc = (chat_gateway_config){0};
    gc->listen = listen;
    gc->public_url = chat_config_get(cfg, "gateway.public_url");
    gc->tls_cert = chat_config_get(cfg, "server.tls_cert");
    gc->tls_key = chat_config_get(cfg, "server.tls_key");
    gc->web_root = web_root(chat_config_get(cfg, "server.web_root"));
    const char *rate = chat_config_get(cfg, "ratelimit.per_sec");
    if (rate)
        gc->rate_per_sec = atof(rate);
    const char *burst = chat_config_get(cfg, "ratelimit.burst");
    if (burst)
        gc->rate_burst = atof(burst);
    const char *io = chat_config_get(cfg, "server.io_threads");
    if (io)
        gc->io_threads = atoi(io);
    const char *retry = chat_config_get(cfg, "gateway.app_retry_ms");
    if (retry)
        gc->app_retry_ms = atoi(retry);
}
