/* Backends by URL scheme, one table per interface. The registry knows no
 * backend: the built-in ones are added from backends/builtin.c at the
 * library's edge, like an application's. */
#include <pthread.h>
#include <string.h>

#include "core/internal.h"

#define MAX_BACKENDS 16
#define MAX_SCHEME 32

typedef struct {
    char scheme[MAX_SCHEME];
    const void *ops;
} entry;

static entry table[CHATI_IFACE__COUNT][MAX_BACKENDS];
static size_t counts[CHATI_IFACE__COUNT];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void add_locked(chati_iface iface, const char *scheme, const void *ops,
                       chati_backend_mode mode, chat_err *rv)
{
    size_t n = counts[iface];
    for (size_t i = 0; i < n; i++) {
        if (strcmp(table[iface][i].scheme, scheme) == 0) {
            if (mode == CHATI_BACKEND_REPLACE)
                table[iface][i].ops = ops;
            *rv = CHAT_OK;
            return;
        }
    }
    if (n == MAX_BACKENDS) {
        *rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "too many backends registered");
        return;
    }
    strcpy(table[iface][n].scheme, scheme);
    table[iface][n].ops = ops;
    counts[iface] = n + 1;
    *rv = CHAT_OK;
}

chat_err chati_backend_add(chati_iface iface, const char *scheme, const void *ops,
                           chati_backend_mode mode)
{
    chat_err rv = chati_iface_check(iface, scheme, ops);
    if (rv != CHAT_OK)
        return rv;
    if (scheme == NULL || scheme[0] == '\0' || strlen(scheme) >= MAX_SCHEME ||
        strchr(scheme, ':'))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a backend needs a scheme of 1-%d "
                          "characters without ':'", MAX_SCHEME - 1);
    pthread_mutex_lock(&lock);
    add_locked(iface, scheme, ops, mode, &rv);
    pthread_mutex_unlock(&lock);
    return rv;
}

const void *chati_backend_find(chati_iface iface, const char *url)
{
    if ((unsigned)iface >= CHATI_IFACE__COUNT || url == NULL) {
        chati_fail(CHAT_ERR_UNKNOWN_SCHEME, "no backend URL given");
        return NULL;
    }
    size_t len = strcspn(url, ":");
    const void *found = NULL;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < counts[iface] && url[len] == ':'; i++)
        if (strlen(table[iface][i].scheme) == len && strncmp(table[iface][i].scheme, url, len) == 0)
            found = table[iface][i].ops;
    pthread_mutex_unlock(&lock);
    if (found == NULL)
        chati_fail(CHAT_ERR_UNKNOWN_SCHEME, "no backend for \"%.*s\" (is it built in?)",
                   (int)(len > 64 ? 64 : len), url);
    return found;
}

const char *chati_url_rest(const char *url)
{
    const char *p = strchr(url, ':');
    if (p == NULL)
        return url;
    p++;
    if (p[0] == '/' && p[1] == '/')
        p += 2;
    return p;
}
