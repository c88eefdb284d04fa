/* The discovery announcer; see announce.h. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/announce.h"

#define DEFAULT_TTL_S 5

struct chati_announcer {
    chat_ctx *ctx;
    char name[16];
    char *address;
    int ttl_s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* monotonic */
    bool stop;
};

chat_err chati_announce_ttl(const chat_ctx *ctx, int *ttl_s)
{
    int64_t v;
    chat_err rv = chati_config_int(ctx->cfg, "server.announce_ttl", DEFAULT_TTL_S, 2, 3600, &v);
    *ttl_s = (int)v;
    return rv;
}

static void *announce_main(void *arg)
{
    chati_thread_name("announce");
    chati_announcer *a = arg;
    chat_ctx *ctx = a->ctx;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        pthread_mutex_unlock(&a->mu);
        /* A failure (discovery unreachable) is retried at the next turn. */
        (void)ctx->discovery->announce(ctx->discovery_impl, a->name, a->address, a->ttl_s);
        int64_t next = chati_mono_ms() + (int64_t)a->ttl_s * 1000 / 3;
        pthread_mutex_lock(&a->mu);
        while (!a->stop && chati_cond_wait_until(&a->cv, &a->mu, next))
            ;
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

chat_err chati_announcer_start(chat_ctx *ctx, const char *name, const char *address,
                               chati_announcer **out)
{
    *out = NULL;
    int ttl_s;
    chat_err rv = chati_announce_ttl(ctx, &ttl_s);
    if (rv != CHAT_OK)
        return rv;
    if (ctx->discovery == NULL || !CHATI_HAS(ctx->discovery, announce, CHAT_DISCOVERY_V1))
        return CHAT_OK;
    chati_announcer *a = chat_calloc(1, sizeof *a);
    if (a == NULL || (a->address = chat_strdup(address)) == NULL) {
        chat_free(a);
        return chati_fail(CHAT_ERR_NOMEM, "announcer");
    }
    a->ctx = ctx;
    snprintf(a->name, sizeof a->name, "%s", name);
    a->ttl_s = ttl_s;
    pthread_mutex_init(&a->mu, NULL);
    chati_cond_init(&a->cv);
    int e = pthread_create(&a->thread, NULL, announce_main, a);
    if (e != 0) {
        pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
        chat_free(a->address);
        chat_free(a);
        return chati_fail(CHAT_ERR_INTERNAL, "announcer thread: %s", strerror(e));
    }
    *out = a;
    return CHAT_OK;
}

void chati_announcer_stop(chati_announcer *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    if (CHATI_HAS(a->ctx->discovery, withdraw, CHAT_DISCOVERY_V1))
        (void)a->ctx->discovery->withdraw(a->ctx->discovery_impl, a->name, a->address);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    chat_free(a->address);
    chat_free(a);
}
