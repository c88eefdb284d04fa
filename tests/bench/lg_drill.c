#include "lg_drill.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/internal.h"

static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;
static lg_errwin win;

void lg_errwin_note(uint64_t t_ns, const char *fmt, ...)
{
    pthread_mutex_lock(&err_mu);
    if (win.count++ == 0) {
        win.first_ns = t_ns;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(win.first, sizeof win.first, fmt, ap);
        va_end(ap);
    }
    if (t_ns > win.last_ns)
        win.last_ns = t_ns;
    if (t_ns > win.end_ns)
        win.end_ns = t_ns;
    pthread_mutex_unlock(&err_mu);
}

void lg_errwin_recovered(uint64_t t_ns)
{
    pthread_mutex_lock(&err_mu);
    if (win.count > 0 && t_ns > win.end_ns)
        win.end_ns = t_ns;
    pthread_mutex_unlock(&err_mu);
}

lg_errwin lg_errwin_get(void)
{
    pthread_mutex_lock(&err_mu);
    lg_errwin w = win;
    pthread_mutex_unlock(&err_mu);
    return w;
}

/* ------------------------------------------------------- reconnecting --- */

typedef struct item {
    void *arg;
    struct item *next;
} item;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running, stopping;
    item *head, *tail;
    lg_reconnect_fn fn;
    int retry_ms;
    uint64_t done;
} R = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *reconnect_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&R.mu);
    while (!R.stopping) {
        if (R.head == NULL) {
            pthread_cond_wait(&R.cv, &R.mu);
            continue;
        }
        item *it = R.head;
        R.head = it->next;
        if (R.head == NULL)
            R.tail = NULL;
        pthread_mutex_unlock(&R.mu);
        bool ok = R.fn(it->arg); /* blocking I/O: never under the lock */
        pthread_mutex_lock(&R.mu);
        if (ok) {
            R.done++;
            free(it);
            continue;
        }
        /* Back of the queue, after a pause, so one dead address does not
         * starve the others. */
        it->next = NULL;
        if (R.tail)
            R.tail->next = it;
        else
            R.head = it;
        R.tail = it;
        if (!R.stopping)
            chati_cond_wait_until(&R.cv, &R.mu, chati_mono_ms() + R.retry_ms);
    }
    pthread_mutex_unlock(&R.mu);
    return NULL;
}

void lg_reconnect_start(lg_reconnect_fn fn, int retry_ms)
{
    R.fn = fn;
    R.retry_ms = retry_ms;
    if (chati_cond_init(&R.cv) == 0 && pthread_create(&R.thread, NULL, reconnect_main, NULL) == 0)
        R.running = true;
}

void lg_reconnect_push(void *arg)
{
    item *it = calloc(1, sizeof *it);
    if (it == NULL)
        return;
    it->arg = arg;
    pthread_mutex_lock(&R.mu);
    if (R.tail)
        R.tail->next = it;
    else
        R.head = it;
    R.tail = it;
    pthread_cond_signal(&R.cv);
    pthread_mutex_unlock(&R.mu);
}

void lg_reconnect_stop(void)
{
    if (!R.running)
        return;
    pthread_mutex_lock(&R.mu);
    R.stopping = true;
    pthread_cond_broadcast(&R.cv);
    pthread_mutex_unlock(&R.mu);
    pthread_join(R.thread, NULL);
    R.running = false;
    while (R.head) {
        item *it = R.head;
        R.head = it->next;
        free(it);
    }
    R.tail = NULL;
}

uint64_t lg_reconnect_count(void)
{
    pthread_mutex_lock(&R.mu);
    uint64_t n = R.done;
    pthread_mutex_unlock(&R.mu);
    return n;
}
