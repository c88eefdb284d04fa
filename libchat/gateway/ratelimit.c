/* Token buckets per API token, in a small open-addressing table. Buckets of
 * tokens idle long enough to be full again are recycled, so memory stays
 * bounded by the number of tokens active at once. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "gw_internal.h"

#define SLOTS 4096         /* power of two */
#define KEY_MAX 64         /* tokens are hashed into this many bytes of key */

typedef struct bucket {
    char key[KEY_MAX];
    double tokens;
    double last;           /* seconds, monotonic */
} bucket;

struct gw_ratelimit {
    pthread_mutex_t mu;
    double rate, burst;
    bucket slots[SLOTS];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

chat_err gw_ratelimit_new(double per_sec, double burst, gw_ratelimit **out)
{
    gw_ratelimit *r = chat_calloc(1, sizeof *r);
    if (r == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "rate limiter");
    pthread_mutex_init(&r->mu, NULL);
    r->rate = per_sec;
    r->burst = burst;
    *out = r;
    return CHAT_OK;
}

/* Tokens are long: keep their tail (the signature), which differs per token. */
static void make_key(const char *token, char key[KEY_MAX])
{
    size_t len = strlen(token);
    const char *from = len >= KEY_MAX ? token + len - (KEY_MAX - 1) : token;
    memset(key, 0, KEY_MAX);
    memcpy(key, from, strlen(from));
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

bool gw_ratelimit_take(gw_ratelimit *r, const char *token, int *retry_after_s)
{
    char key[KEY_MAX];
    make_key(token, key);
    double now = now_s();
    pthread_mutex_lock(&r->mu);
    uint32_t h = hash(key);
    bucket *b = NULL, *reuse = NULL;
    for (uint32_t i = 0; i < 16 && b == NULL; i++) {
        bucket *s = &r->slots[(h + i) & (SLOTS - 1)];
        if (strcmp(s->key, key) == 0)
            b = s;
        else if (reuse == NULL &&
                 (s->key[0] == '\0' || (now - s->last) * r->rate + s->tokens >= r->burst))
            reuse = s; /* empty, or full again: forgetting it changes nothing */
    }
    if (b == NULL) {
        /* A full table of busy tokens: let the request through unmetered
         * rather than punish a stranger. */
        if (reuse == NULL) {
            pthread_mutex_unlock(&r->mu);
            return true;
        }
        b = reuse;
        memcpy(b->key, key, KEY_MAX);
        b->tokens = r->burst;
        b->last = now;
    }
    b->tokens = fmin(r->burst, b->tokens + (now - b->last) * r->rate);
    b->last = now;
    bool ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    else if (retry_after_s)
        *retry_after_s = (int)ceil((1.0 - b->tokens) / r->rate);
    pthread_mutex_unlock(&r->mu);
    if (!ok && retry_after_s && *retry_after_s < 1)
        *retry_after_s = 1;
    return ok;
}

void gw_ratelimit_free(gw_ratelimit *r)
{
    if (r == NULL)
        return;
    pthread_mutex_destroy(&r->mu);
    chat_free(r);
}
