/* Condition waits on the monotonic clock, and sleeping. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "core/internal.h"

int chati_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    int rv = pthread_condattr_init(&ca);
    if (rv != 0)
        return rv;
    rv = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rv == 0)
        rv = pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
    return rv;
}

bool chati_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms)
{
    if (chati_mono_ms() >= deadline_ms)
        return false;
    struct timespec ts = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000L};
    return pthread_cond_timedwait(cv, mu, &ts) != ETIMEDOUT;
}

bool chati_cond_wait_until_us(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_us)
{
    if (chati_mono_us() >= deadline_us)
        return false;
    struct timespec ts = {(time_t)(deadline_us / 1000000), (long)(deadline_us % 1000000) * 1000L};
    return pthread_cond_timedwait(cv, mu, &ts) != ETIMEDOUT;
}

void chati_sleep_ms(int ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void chati_thread_name(const char *name)
{
    char n[16];
    snprintf(n, sizeof n, "%s", name);
    pthread_setname_np(pthread_self(), n);
}
