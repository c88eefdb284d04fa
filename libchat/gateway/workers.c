/* A job queue with a fixed set of threads: the socket loops must not block on
 * storage or password hashing, so requests are handed over to these. */
#include <string.h>

#include "gw_internal.h"

typedef struct job {
    gw_job_fn fn;
    void *arg;
    struct job *next;
} job;

struct gw_workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    bool stop;
    int n;
    pthread_t *threads;
};

static void *worker_main(void *arg)
{
    gw_workers *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->head == NULL && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        job *j = w->head;
        if (j == NULL)
            break; /* stopping with nothing left */
        w->head = j->next;
        if (w->head == NULL)
            w->tail = NULL;
        pthread_mutex_unlock(&w->mu);
        j->fn(j->arg);
        chat_free(j);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

chat_err gw_workers_start(int n, gw_workers **out)
{
    gw_workers *w = chat_calloc(1, sizeof *w);
    if (w == NULL || (w->threads = chat_calloc((size_t)n, sizeof *w->threads)) == NULL) {
        chat_free(w);
        return chati_fail(CHAT_ERR_NOMEM, "workers");
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    for (; w->n < n; w->n++) {
        if (pthread_create(&w->threads[w->n], NULL, worker_main, w) != 0) {
            gw_workers_free(w);
            return chati_fail(CHAT_ERR_INTERNAL, "cannot start worker threads");
        }
    }
    *out = w;
    return CHAT_OK;
}

bool gw_workers_submit(gw_workers *w, gw_job_fn fn, void *arg)
{
    job *j = chat_malloc(sizeof *j);
    if (j == NULL)
        return false;
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->stop) {
        pthread_mutex_unlock(&w->mu);
        chat_free(j);
        return false;
    }
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return true;
}

void gw_workers_stop(gw_workers *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true; /* queued jobs still run: in-flight requests finish */
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    w->n = 0;
}

void gw_workers_free(gw_workers *w)
{
    if (w == NULL)
        return;
    gw_workers_stop(w);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    chat_free(w->threads);
    chat_free(w);
}
