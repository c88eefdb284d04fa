/*
 * chat_service: one service of the distributed deployment, as a program runs
 * it (include/chat/server.h): the method table served over RPC, and the
 * service's address kept registered in discovery by a thread of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/server.h>

#include "api/announce.h"
#include "api/serve.h"
#include "domain/ctx.h"

/* Client connections a service holds: each caller thread of each gateway
 * and service keeps one per call in flight, plus one for health probes. */
#define WORKERS 1024

/* The backends each service owns; everything else is "none" there. */
static const struct {
    const char *service;
    const char *keys[4];
} owned[] = {
    {"auth", {"store.auth", "broker", NULL}}, /* broker: the events apps hear */
    {"user", {"store.user", "broker", NULL}},
    {"channel", {"store.channel", "broker", NULL}},
    {"message", {"store.message", "broker", "blob", NULL}},
    {"presence", {"presence", "broker", NULL}},
};

static const char *const backend_keys[] = {"store.auth", "store.user", "store.channel",
                                           "store.message", "broker", "blob", "presence"};

struct chat_service {
    chati_api_server *srv;
    chati_announcer *announcer; /* NULL: discovery does not take announcements */
};

chat_err chat_service_config(chat_config *cfg, const char *service)
{
    chati_clear_errmsg();
    if (cfg == NULL || service == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a configuration and a service are needed");
    size_t j = 0;
    while (j < CHATI_ARRAY_LEN(owned) && strcmp(owned[j].service, service) != 0)
        j++;
    if (j == CHATI_ARRAY_LEN(owned))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no service \"%.32s\"", service);
    for (size_t i = 0; i < CHATI_ARRAY_LEN(backend_keys); i++) {
        bool mine = false;
        for (size_t k = 0; owned[j].keys[k]; k++)
            mine = mine || strcmp(owned[j].keys[k], backend_keys[i]) == 0;
        chat_err rv = mine ? CHAT_OK : chat_config_set(cfg, backend_keys[i], "none", NULL, 0);
        if (rv != CHAT_OK)
            return rv;
    }
    return CHAT_OK;
}

void chat_service_stop(chat_service *svc)
{
    if (svc == NULL)
        return;
    /* Withdrawn first: callers stop picking this instance while it drains. */
    chati_announcer_stop(svc->announcer);
    chati_api_server_stop(svc->srv);
    chat_free(svc);
}

chat_err chat_service_start(chat_ctx *ctx, const char *service, const char *listen_url,
                            const char *advertise, chat_service **out)
{
    chati_clear_errmsg();
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no output");
    *out = NULL;
    if (ctx == NULL || service == NULL || listen_url == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                          "a context, a service and an address to listen on are needed");
    if (chati_service_from_name(service) < 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no service \"%.32s\"", service);
    int ttl_s;
    int64_t drain_ms;
    chat_err rv;
    if ((rv = chati_announce_ttl(ctx, &ttl_s)) != CHAT_OK ||
        (rv = chati_config_int(ctx->cfg, "server.drain_ms", 0, 1, 3600000, &drain_ms)) !=
            CHAT_OK)
        return rv;
    chat_service *svc = chat_calloc(1, sizeof *svc);
    if (svc == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "service");
    chati_api_server_opts opts = {0, (int)drain_ms, NULL, NULL};
    rv = chati_api_server_start(ctx, listen_url, WORKERS, &opts, &svc->srv);
    if (rv == CHAT_OK) {
        const char *addr = advertise && *advertise ? advertise : chati_api_server_url(svc->srv);
        rv = chati_announcer_start(ctx, service, addr, &svc->announcer);
    }
    if (rv != CHAT_OK) {
        chat_service_stop(svc);
        return rv;
    }
    *out = svc;
    return CHAT_OK;
}

const char *chat_service_url(const chat_service *svc)
{
    return svc ? chati_api_server_url(svc->srv) : "";
}
