/*
 * libchat/backends/mongo/reads.c - where reads go: the URL's read preference
 * (readPreference, readPreferenceTags, maxStalenessSeconds) for the reads
 * that may be a little stale, the primary for everything else.
 *
 * The pool's own read preference is always primary, so writes' reads (the
 * newest ts, read-modify-write loads, claims), the outbox, the relay and its
 * lease, single messages and files by id never touch a secondary. Only
 * history, thread replies, search and file lists take the URL's, and not
 * for a channel this store wrote in the last fresh_ms (10 s, or
 * maxStalenessSeconds when the URL sets it): a caller who posts and then
 * reads the channel through the same store sees its post. A read through
 * another store (another chat-messaged instance) may lag by the
 * replication delay; that is the price of reading from secondaries.
 */
#include <string.h>

#include "backends/mongo/mongo.h"

#define FRESH_MS_DEFAULT 10000
#define FILES_KEY "" /* files are tracked as one key: their lists span channels */

struct chati_mongo_recent {
    char channel[CHAT_ID_SIZE];
    int64_t at;
};

void chati_mongo_reads_init(chati_mongo *s, mongoc_uri_t *uri)
{
    pthread_mutex_init(&s->rmu, NULL);
    const mongoc_read_prefs_t *rp = mongoc_uri_get_read_prefs_t(uri);
    int64_t stale = rp != NULL ? mongoc_read_prefs_get_max_staleness_seconds(rp) : -1;
    s->fresh_ms = stale > 0 ? stale * 1000 : FRESH_MS_DEFAULT;
    if (rp != NULL && mongoc_read_prefs_get_mode(rp) != MONGOC_READ_PRIMARY)
        s->reads = mongoc_read_prefs_copy(rp);
    mongoc_read_prefs_t *primary = mongoc_read_prefs_new(MONGOC_READ_PRIMARY);
    mongoc_uri_set_read_prefs_t(uri, primary);
    mongoc_read_prefs_destroy(primary);
}

void chati_mongo_reads_free(chati_mongo *s)
{
    if (s->reads != NULL)
        mongoc_read_prefs_destroy(s->reads);
    s->reads = NULL;
    chat_free(s->recent);
    s->recent = NULL;
    s->n_recent = s->cap_recent = 0;
    pthread_mutex_destroy(&s->rmu);
}

static chati_mongo_recent *find_locked(chati_mongo *s, const char *key)
{
    for (size_t i = 0; i < s->n_recent; i++)
        if (strcmp(s->recent[i].channel, key) == 0)
            return &s->recent[i];
    return NULL;
}

void chati_mongo_wrote(chati_mongo *s, const char *channel)
{
    if (s->reads == NULL)
        return;
    const char *key = channel != NULL ? channel : FILES_KEY;
    int64_t now = chati_mono_ms();
    pthread_mutex_lock(&s->rmu);
    /* Entries past the window route nothing any more: drop them here. */
    for (size_t i = 0; i < s->n_recent;)
        if (now - s->recent[i].at >= s->fresh_ms)
            s->recent[i] = s->recent[--s->n_recent];
        else
            i++;
    chati_mongo_recent *r = find_locked(s, key);
    if (r == NULL && s->n_recent == s->cap_recent) {
        size_t cap = s->cap_recent ? s->cap_recent * 2 : 32;
        chati_mongo_recent *v = chat_realloc(s->recent, cap * sizeof *v);
        if (v != NULL) {
            s->recent = v;
            s->cap_recent = cap;
        }
    }
    if (r == NULL && s->n_recent < s->cap_recent) {
        r = &s->recent[s->n_recent++];
        chati_copy_fixed(r->channel, sizeof r->channel, key);
    }
    if (r != NULL)
        r->at = now;
    else
        s->all_primary_until = now + s->fresh_ms; /* out of memory: play safe */
    pthread_mutex_unlock(&s->rmu);
}

static bool fresh_locked(chati_mongo *s, const char *key, int64_t now)
{
    chati_mongo_recent *r = find_locked(s, key);
    return now < s->all_primary_until || (r != NULL && now - r->at < s->fresh_ms);
}

const mongoc_read_prefs_t *chati_mongo_reads(chati_mongo *s, const char *channel)
{
    return chati_mongo_reads_any(s, channel != NULL ? &channel : NULL, channel != NULL ? 1 : 0,
                                 NULL, 0);
}

const mongoc_read_prefs_t *chati_mongo_reads_any(chati_mongo *s, const char *const *keys,
                                                 size_t n_keys,
                                                 const char (*channels)[CHAT_ID_SIZE],
                                                 size_t n_channels)
{
    if (s->reads == NULL)
        return NULL;
    int64_t now = chati_mono_ms();
    bool fresh = false;
    pthread_mutex_lock(&s->rmu);
    for (size_t i = 0; !fresh && i < n_keys; i++)
        fresh = fresh_locked(s, keys[i] != NULL ? keys[i] : FILES_KEY, now);
    for (size_t i = 0; !fresh && i < n_channels; i++)
        fresh = fresh_locked(s, channels[i], now);
    if (n_keys == 0 && n_channels == 0)
        fresh = fresh_locked(s, FILES_KEY, now);
    pthread_mutex_unlock(&s->rmu);
    return fresh ? NULL : s->reads;
}
