/*
 * Static service discovery ("static:" or "static:/path/to/file").
 *
 * "static:" is an in-memory table filled by announce(). With a path, the file
 * holds "service address" lines ('#' starts a comment) and is read at open and
 * again whenever its mtime, size or inode changes (an edit or an atomic
 * replace), checked on each lookup. announce() and withdraw() change the
 * in-memory table only; ttl is ignored, since nothing here can notice that an
 * announcer died. lookup() answers the file's entries first, in file order, then
 * announced ones, without duplicates. A withdrawn address that the file names
 * stays hidden until the file changes.
 *
 * A missing file reads as empty, so the file may be written after start. A
 * file that fails to parse at open is a configuration error; later, a bad
 * re-read keeps the previous table (an editor may be mid-save).
 *
 * Thread safety: one mutex guards the tables; the file is read without it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "backends/builtin.h"
#include "core/internal.h"

typedef struct pair {
    char *service;
    char *address;
} pair;

typedef struct table {
    pair *v;
    size_t n, cap;
} table;

/* Identity of a file version; zeroed when the file does not exist. */
typedef struct stamp {
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} stamp;

typedef struct sdisc {
    pthread_mutex_t mu;
    char *path;                 /* NULL: memory only */
    table file;                 /* what the file said, minus withdrawals */
    table announced;
    stamp loaded;               /* which version of the file `file` came from */
} sdisc;

static void table_clear(table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        chat_free(t->v[i].service);
        chat_free(t->v[i].address);
    }
    chat_free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

static bool table_has(const table *t, const char *service, const char *address)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].service, service) == 0 && strcmp(t->v[i].address, address) == 0)
            return true;
    return false;
}

static chat_err table_add(table *t, const char *service, const char *address)
{
    if (table_has(t, service, address))
        return CHAT_OK;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 8;
        pair *nv = chat_realloc(t->v, ncap * sizeof *nv);
        if (nv == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "static discovery: out of memory");
        t->v = nv;
        t->cap = ncap;
    }
    pair p = {chat_strdup(service), chat_strdup(address)};
    if (p.service == NULL || p.address == NULL) {
        chat_free(p.service);
        chat_free(p.address);
        return chati_fail(CHAT_ERR_NOMEM, "static discovery: out of memory");
    }
    t->v[t->n++] = p;
    return CHAT_OK;
}

static void table_del(table *t, const char *service, const char *address)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].service, service) == 0 && strcmp(t->v[i].address, address) == 0) {
            chat_free(t->v[i].service);
            chat_free(t->v[i].address);
            memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof *t->v);
            t->n--;
            return;
        }
    }
}

static bool valid_word(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s == 0x7f)
            return false;
    return true;
}

static void get_stamp(const char *path, stamp *st)
{
    struct stat sb;
    memset(st, 0, sizeof *st);
    if (stat(path, &sb) != 0)
        return;
    st->exists = true;
    st->dev = sb.st_dev;
    st->ino = sb.st_ino;
    st->size = sb.st_size;
    st->mtime = sb.st_mtim;
}

static bool stamp_eq(const stamp *a, const stamp *b)
{
    if (a->exists != b->exists)
        return false;
    if (!a->exists)
        return true;
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Parses the file into out; a missing file is an empty table. *st receives
 * the stamp of what was read (taken before reading, so a change during the
 * read is seen again next time). */
static chat_err read_file(const char *path, table *out, stamp *st)
{
    get_stamp(path, st);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT) {
            memset(st, 0, sizeof *st);
            return CHAT_OK;
        }
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "static discovery: cannot read %s: %s", path,
                          strerror(errno));
    }
    chat_err rv = CHAT_OK;
    char line[1024];
    int lineno = 0;
    while (rv == CHAT_OK && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "%s:%d: line too long", path, lineno);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *save = NULL;
        char *service = strtok_r(line, " \t\r\n", &save);
        if (service == NULL)
            continue; /* blank or comment */
        char *address = strtok_r(NULL, " \t\r\n", &save);
        char *extra = strtok_r(NULL, " \t\r\n", &save);
        if (address == NULL || extra != NULL) {
            rv = chati_fail(CHAT_ERR_INVALID_CONFIG,
                            "%s:%d: expected \"service address\"", path, lineno);
            break;
        }
        rv = table_add(out, service, address);
    }
    if (rv == CHAT_OK && ferror(f))
        rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "static discovery: cannot read %s", path);
    fclose(f);
    if (rv != CHAT_OK)
        table_clear(out);
    return rv;
}

/* Re-reads the file if it changed since it was loaded. */
static void refresh(sdisc *sd)
{
    stamp now;
    get_stamp(sd->path, &now);
    pthread_mutex_lock(&sd->mu);
    bool same = stamp_eq(&now, &sd->loaded);
    pthread_mutex_unlock(&sd->mu);
    if (same)
        return;

    table t = {0};
    stamp st;
    if (read_file(sd->path, &t, &st) != CHAT_OK)
        return; /* keep the last good table */
    pthread_mutex_lock(&sd->mu);
    if (!stamp_eq(&st, &sd->loaded)) { /* another thread may have loaded it first */
        table old = sd->file;
        sd->file = t;
        sd->loaded = st;
        t = old;
    }
    pthread_mutex_unlock(&sd->mu);
    table_clear(&t);
}

static chat_err sd_open(const char *url, const chat_config *cfg, void **impl)
{
    CHATI_UNUSED(cfg);
    const char *path = url ? chati_url_rest(url) : "";
    sdisc *sd = chat_calloc(1, sizeof *sd);
    if (sd == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "static discovery: out of memory");
    if (pthread_mutex_init(&sd->mu, NULL) != 0) {
        chat_free(sd);
        return chati_fail(CHAT_ERR_INTERNAL, "static discovery: mutex");
    }
    if (path[0] != '\0') {
        chat_err rv = CHAT_OK;
        if ((sd->path = chat_strdup(path)) == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "static discovery: out of memory");
        else
            rv = read_file(sd->path, &sd->file, &sd->loaded);
        if (rv != CHAT_OK) {
            pthread_mutex_destroy(&sd->mu);
            chat_free(sd->path);
            chat_free(sd);
            return rv;
        }
    }
    *impl = sd;
    return CHAT_OK;
}

static void sd_close(void *impl)
{
    sdisc *sd = impl;
    if (sd == NULL)
        return;
    table_clear(&sd->file);
    table_clear(&sd->announced);
    pthread_mutex_destroy(&sd->mu);
    chat_free(sd->path);
    chat_free(sd);
}

static chat_err sd_announce(void *impl, const char *service, const char *address, int ttl_s)
{
    sdisc *sd = impl;
    CHATI_UNUSED(ttl_s);
    if (!valid_word(service) || !valid_word(address))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                          "static discovery: service and address must be non-empty words");
    pthread_mutex_lock(&sd->mu);
    chat_err rv = table_add(&sd->announced, service, address);
    pthread_mutex_unlock(&sd->mu);
    return rv;
}

static chat_err sd_withdraw(void *impl, const char *service, const char *address)
{
    sdisc *sd = impl;
    if (!valid_word(service) || !valid_word(address))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                          "static discovery: service and address must be non-empty words");
    if (sd->path)
        refresh(sd); /* so the withdrawal applies to the current file version */
    pthread_mutex_lock(&sd->mu);
    table_del(&sd->announced, service, address);
    table_del(&sd->file, service, address);
    pthread_mutex_unlock(&sd->mu);
    return CHAT_OK;
}

static chat_err sd_lookup(void *impl, const char *service, chat_list **out)
{
    sdisc *sd = impl;
    if (service == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "static discovery: bad lookup");
    if (sd->path)
        refresh(sd);
    chat_list *l = chat_list_new(CHAT_LIST_STRINGS);
    if (l == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "static discovery: out of memory");
    chat_err rv = CHAT_OK;
    pthread_mutex_lock(&sd->mu);
    for (size_t i = 0; i < sd->file.n && rv == CHAT_OK; i++)
        if (strcmp(sd->file.v[i].service, service) == 0)
            rv = chat_list_push_string(l, sd->file.v[i].address);
    for (size_t i = 0; i < sd->announced.n && rv == CHAT_OK; i++)
        if (strcmp(sd->announced.v[i].service, service) == 0 &&
            !table_has(&sd->file, service, sd->announced.v[i].address))
            rv = chat_list_push_string(l, sd->announced.v[i].address);
    pthread_mutex_unlock(&sd->mu);
    if (rv != CHAT_OK) {
        chat_list_free(l);
        return rv;
    }
    *out = l;
    return CHAT_OK;
}

const chat_discovery_ops chati_static_discovery_ops = {
    .version = CHAT_DISCOVERY_V1,
    .scheme = "static",
    .open = sd_open,
    .close = sd_close,
    .announce = sd_announce,
    .withdraw = sd_withdraw,
    .lookup = sd_lookup,
};
