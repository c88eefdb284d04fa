/*
 * libchat/backends/mongo/conn.c - the client pool, indexes, errors, counters.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/mongo/mongo.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Warnings and worse go on to the driver's default handler (stderr), but not
 * the one FerretDB causes at every pool close (it has no endSessions), nor
 * the monitor's debug chatter while a server is down. */
static void log_filter(mongoc_log_level_t level, const char *domain, const char *message,
                       void *arg)
{
    if (level > MONGOC_LOG_LEVEL_WARNING ||
        (level == MONGOC_LOG_LEVEL_WARNING && strstr(message, "endSessions") != NULL))
        return;
    mongoc_log_default_handler(level, domain, message, arg);
}

static void driver_init(void)
{
    mongoc_init();
    mongoc_log_set_handler(log_filter, NULL);
}

void chati_mongo_conn_get(chati_mongo *s, chati_mongo_conn *c)
{
    memset(c, 0, sizeof *c);
    c->s = s;
    /* Blocks while every pooled client is in use (maxPoolSize, default 100). */
    c->client = mongoc_client_pool_pop(s->pool);
    c->msgs = mongoc_client_get_collection(c->client, s->db, "messages");
    c->files = mongoc_client_get_collection(c->client, s->db, "files");
    c->staged = mongoc_client_get_collection(c->client, s->db, "staged");
    c->outbox = mongoc_client_get_collection(c->client, s->db, "outbox");
    c->meta = mongoc_client_get_collection(c->client, s->db, "meta");
    c->claims = mongoc_client_get_collection(c->client, s->db, "claims");
}

void chati_mongo_conn_put(chati_mongo_conn *c)
{
    mongoc_collection_destroy(c->msgs);
    mongoc_collection_destroy(c->files);
    mongoc_collection_destroy(c->staged);
    mongoc_collection_destroy(c->outbox);
    mongoc_collection_destroy(c->meta);
    mongoc_collection_destroy(c->claims);
    if (c->client != NULL)
        mongoc_client_pool_push(c->s->pool, c->client);
    memset(c, 0, sizeof *c);
}

bool chati_mongo_is_dup(const bson_error_t *e)
{
    return e->code == 11000 || e->code == 11001;
}


static void claim_id(const char *doc, int64_t version, char out[96])
{
    snprintf(out, 96, "%s@%" PRId64, doc, version);
}

chat_err chati_mongo_claim(chati_mongo_conn *c, const char *doc, int64_t version, bool *won)
{
    *won = true;
    if (!c->s->claims)
        return CHAT_OK;
    char id[96];
    claim_id(doc, version, id);
    chat_err rv = CHAT_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        bson_t rec = BSON_INITIALIZER, f = BSON_INITIALIZER, lt;
        bson_error_t err;
        BSON_APPEND_UTF8(&rec, "_id", id);
        BSON_APPEND_INT64(&rec, "t", chati_now_ms());
        bool ok = mongoc_collection_insert_one(c->claims, &rec, NULL, NULL, &err);
        bson_destroy(&rec);
        if (ok || !chati_mongo_is_dup(&err)) {
            if (!ok)
                rv = chati_mongo_err(&err, "claiming a message");
            *won = ok;
            return rv;
        }
        /* Held: taken over only when stale (both takers may delete it; one
         * insert wins). */
        BSON_APPEND_UTF8(&f, "_id", id);
        BSON_APPEND_DOCUMENT_BEGIN(&f, "t", &lt);
        BSON_APPEND_INT64(&lt, "$lt", chati_now_ms() - CHATI_MONGO_CLAIM_MS);
        bson_append_document_end(&f, &lt);
        bson_t reply;
        bson_iter_t it;
        bool stale = mongoc_collection_delete_one(c->claims, &f, NULL, &reply, &err) &&
                     bson_iter_init_find(&it, &reply, "deletedCount") &&
                     bson_iter_as_int64(&it) > 0;
        bson_destroy(&reply);
        bson_destroy(&f);
        if (!stale)
            break;
    }
    *won = false;
    return rv;
}

void chati_mongo_unclaim(chati_mongo_conn *c, const char *doc, int64_t version, chat_err why)
{
    if (!c->s->claims || why == CHAT_ERR_SERVICE_UNAVAILABLE)
        return;
    char id[96];
    claim_id(doc, version, id);
    bson_t f = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&f, "_id", id);
    mongoc_collection_delete_one(c->claims, &f, NULL, NULL, NULL);
    bson_destroy(&f);
}

void chati_mongo_array_str(bson_t *arr, uint32_t i, const char *s)
{
    char idx[16];
    const char *k;
    bson_uint32_to_string(i, &k, idx, sizeof idx);
    bson_append_utf8(arr, k, -1, s, -1);
}

void chati_mongo_append_ids(bson_t *doc, const char *key, const char (*ids)[CHAT_ID_SIZE],
                            size_t n)
{
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(doc, key, &arr);
    for (size_t i = 0; i < n; i++)
        chati_mongo_array_str(&arr, (uint32_t)i, ids[i]);
    bson_append_array_end(doc, &arr);
}

chat_err chati_mongo_cursor_end(mongoc_cursor_t *cur, chat_err rv, const char *what)
{
    bson_error_t err;
    if (rv == CHAT_OK && mongoc_cursor_error(cur, &err))
        rv = chati_mongo_err(&err, what);
    mongoc_cursor_destroy(cur);
    return rv;
}

/* Server replies that mean "no primary right now" (a replica set electing,
 * a server shutting down) or "not replicated in time": worth a retry later,
 * like a server that cannot be reached. */
static bool is_transient(uint32_t code)
{
    static const uint32_t codes[] = {
        6,     /* HostUnreachable */
        7,     /* HostNotFound */
        64,    /* WriteConcernFailed */
        89,    /* NetworkTimeout */
        91,    /* ShutdownInProgress */
        189,   /* PrimarySteppedDown */
        10107, /* NotWritablePrimary */
        11600, /* InterruptedAtShutdown */
        11602, /* InterruptedDueToReplStateChange */
        13435, /* NotPrimaryNoSecondaryOk */
        13436, /* NotPrimaryOrSecondary */
    };
    for (size_t i = 0; i < CHATI_ARRAY_LEN(codes); i++)
        if (code == codes[i])
            return true;
    return false;
}

chat_err chati_mongo_err(const bson_error_t *e, const char *what)
{
    if (chati_mongo_is_dup(e))
        return chati_fail(CHAT_ERR_DUPLICATE, "mongodb: %s: %s", what, e->message);
    if (e->domain == MONGOC_ERROR_SERVER_SELECTION || e->domain == MONGOC_ERROR_STREAM ||
        e->domain == MONGOC_ERROR_WRITE_CONCERN ||
        ((e->domain == MONGOC_ERROR_SERVER || e->domain == MONGOC_ERROR_QUERY) &&
         is_transient(e->code)))
        return chati_fail(CHAT_ERR_SERVICE_UNAVAILABLE, "mongodb unreachable while %s: %s", what,
                          e->message);
    return chati_fail(CHAT_ERR_STORAGE, "mongodb: %s: %s (code %u)", what, e->message, e->code);
}

chat_err chati_mongo_counter(chati_mongo_conn *c, const char *name, int64_t by, int64_t *out)
{
    bson_t query = BSON_INITIALIZER, update = BSON_INITIALIZER, inc, reply = BSON_INITIALIZER;
    bson_error_t err;
    BSON_APPEND_UTF8(&query, "_id", name);
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$inc", &inc);
    BSON_APPEND_INT64(&inc, "n", by);
    bson_append_document_end(&update, &inc);
    bool ok = false;
    /* Two processes creating the counter at once: one upsert inserts, the
     * other fails with a duplicate key and finds it there the second time. */
    for (int i = 0; i < 2 && !ok; i++) {
        bson_destroy(&reply);
        ok = mongoc_collection_find_and_modify(c->meta, &query, NULL, &update, NULL, false,
                                               true, true, &reply, &err);
        if (!ok && !chati_mongo_is_dup(&err))
            break;
    }
    chat_err rv = CHAT_OK;
    bson_iter_t it;
    if (!ok)
        rv = chati_mongo_err(&err, "allocating a sequence number");
    else if (!bson_iter_init_find(&it, &reply, "value") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
             !bson_iter_recurse(&it, &it) || !bson_iter_find(&it, "n") ||
             !BSON_ITER_HOLDS_NUMBER(&it))
        rv = chati_fail(CHAT_ERR_STORAGE, "mongodb: counter %s: malformed reply", name);
    else
        *out = bson_iter_as_int64(&it);
    bson_destroy(&reply);
    bson_destroy(&query);
    bson_destroy(&update);
    return rv;
}

/* One index of createIndexes: key fields as "name:1,name:-1". */
static void index_spec(bson_t *arr, const char *i, const char *name, const char *keys,
                       bool unique)
{
    bson_t ix, key;
    BSON_APPEND_DOCUMENT_BEGIN(arr, i, &ix);
    BSON_APPEND_DOCUMENT_BEGIN(&ix, "key", &key);
    char buf[128];
    snprintf(buf, sizeof buf, "%s", keys);
    for (char *save = NULL, *f = strtok_r(buf, ",", &save); f != NULL;
         f = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(f, ':');
        *colon = '\0';
        BSON_APPEND_INT32(&key, f, atoi(colon + 1));
    }
    bson_append_document_end(&ix, &key);
    BSON_APPEND_UTF8(&ix, "name", name);
    if (unique)
        BSON_APPEND_BOOL(&ix, "unique", true);
    bson_append_document_end(arr, &ix);
}

/* Plain (non-partial, non-sparse, non-text) indexes only: FerretDB 1.x has
 * no text indexes and ignores or refuses partial ones. Creating an index
 * that exists with the same spec is a no-op. */
static chat_err create_indexes(chati_mongo_conn *c)
{
    static const struct {
        const char *coll, *name, *keys;
        bool unique;
    } ix[] = {
        {"messages", "channel_ts", "c:1,ts:1", true},
        /* k = "c:" + client_msg_id, or "t:" + ts when there is none, so a
         * plain unique index does what a partial one would. */
        {"messages", "channel_key", "c:1,k:1", true},
        {"messages", "thread", "c:1,th:1,ts:1", false},
        {"messages", "history", "c:1,inh:1,ts:1", false},
        /* The channel's chain: q = "<channel>:<ts before>", so two posts
         * cannot both follow one message (message_store.c). */
        {"messages", "chain", "q:1", true},
        /* Anchored prefix regexes ("^word") on a multikey index. */
        {"messages", "search_words", "c:1,w:1", false},
        /* reactions.list: a person's reactions (multikey over r[].u). */
        {"messages", "reacted", "r.u:1,ts:-1", false},
        {"files", "team_created", "tm:1,cr:1,o:1", false},
        {"staged", "order", "o:1,_id:1", false},
        {"staged", "follows", "dp:1", false},
        {"outbox", "item", "i:1", true},
        {"scheduled", "due", "pa:1,lu:1", false},
        {"scheduled", "by_user", "tm:1,u:1,pa:1", false},
    };
    chat_err rv = CHAT_OK;
    for (size_t i = 0; i < CHATI_ARRAY_LEN(ix) && rv == CHAT_OK; i++) {
        bson_t cmd = BSON_INITIALIZER, arr, reply;
        bson_error_t err;
        BSON_APPEND_UTF8(&cmd, "createIndexes", ix[i].coll);
        BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &arr);
        index_spec(&arr, "0", ix[i].name, ix[i].keys, ix[i].unique);
        bson_append_array_end(&cmd, &arr);
        mongoc_database_t *db = mongoc_client_get_database(c->client, c->s->db);
        if (!mongoc_database_write_command_with_opts(db, &cmd, NULL, &reply, &err))
            rv = chati_mongo_err(&err, "creating indexes");
        mongoc_database_destroy(db);
        bson_destroy(&reply);
        bson_destroy(&cmd);
    }
    return rv;
}

/* Documents of a database written before q (messages) and i (outbox)
 * existed get stand-ins that no post or item uses (":" + _id), so that the
 * unique indexes hold: MongoDB counts every missing value as the same null. */
static chat_err fill_missing(mongoc_collection_t *coll, const char *field)
{
    bson_t filter = BSON_INITIALIZER, ex, opts = BSON_INITIALIZER, proj;
    BSON_APPEND_DOCUMENT_BEGIN(&filter, field, &ex);
    BSON_APPEND_BOOL(&ex, "$exists", false);
    bson_append_document_end(&filter, &ex);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
    BSON_APPEND_INT32(&proj, "_id", 1);
    bson_append_document_end(&opts, &proj);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
    const bson_t *doc;
    bson_iter_t id;
    bson_error_t err;
    chat_err rv = CHAT_OK;
    while (rv == CHAT_OK && mongoc_cursor_next(cur, &doc)) {
        if (!bson_iter_init_find(&id, doc, "_id"))
            continue;
        char v[80];
        if (BSON_ITER_HOLDS_UTF8(&id))
            snprintf(v, sizeof v, ":%s", bson_iter_utf8(&id, NULL));
        else
            snprintf(v, sizeof v, ":%" PRId64, bson_iter_as_int64(&id));
        bson_t f = BSON_INITIALIZER, u = BSON_INITIALIZER, set;
        bson_append_iter(&f, "_id", -1, &id);
        BSON_APPEND_DOCUMENT_BEGIN(&u, "$set", &set);
        BSON_APPEND_UTF8(&set, field, v);
        bson_append_document_end(&u, &set);
        if (!mongoc_collection_update_one(coll, &f, &u, NULL, NULL, &err))
            rv = chati_mongo_err(&err, "upgrading the database");
        bson_destroy(&f);
        bson_destroy(&u);
    }
    rv = chati_mongo_cursor_end(cur, rv, "upgrading the database");
    bson_destroy(&filter);
    bson_destroy(&opts);
    return rv;
}

chat_err chati_mongo_upgraded(chati_mongo_conn *c, const char *step, bool *done)
{
    bson_t f = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&f, "_id", "upgrades");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c->meta, &f, NULL, NULL);
    const bson_t *doc;
    bson_iter_t it;
    *done = false;
    if (mongoc_cursor_next(cur, &doc))
        *done = bson_iter_init_find(&it, doc, step) && BSON_ITER_HOLDS_BOOL(&it) &&
                bson_iter_bool(&it);
    bson_destroy(&f);
    return chati_mongo_cursor_end(cur, CHAT_OK, "reading the upgrades done");
}

chat_err chati_mongo_mark_upgraded(chati_mongo_conn *c, const char *step)
{
    bson_t f = BSON_INITIALIZER, u = BSON_INITIALIZER, set, opts = BSON_INITIALIZER;
    bson_error_t err;
    BSON_APPEND_UTF8(&f, "_id", "upgrades");
    BSON_APPEND_DOCUMENT_BEGIN(&u, "$set", &set);
    BSON_APPEND_BOOL(&set, step, true);
    bson_append_document_end(&u, &set);
    BSON_APPEND_BOOL(&opts, "upsert", true);
    chat_err rv = CHAT_OK;
    /* Two stores marking at once: one upsert inserts, the other may fail on
     * the duplicate _id and then finds the document there. */
    for (int i = 0; i < 2; i++) {
        if (mongoc_collection_update_one(c->meta, &f, &u, &opts, NULL, &err)) {
            rv = CHAT_OK;
            break;
        }
        rv = chati_mongo_err(&err, "recording an upgrade");
        if (!chati_mongo_is_dup(&err))
            break;
    }
    bson_destroy(&f);
    bson_destroy(&u);
    bson_destroy(&opts);
    return rv;
}

/* Whether the server is FerretDB, whose updates are not atomic (see
 * chati_mongo_claim): its buildInfo says so. */
static chat_err detect_ferretdb(chati_mongo_conn *c)
{
    bson_t cmd = BSON_INITIALIZER, reply;
    bson_error_t err;
    bson_iter_t it;
    BSON_APPEND_INT32(&cmd, "buildInfo", 1);
    chat_err rv = CHAT_OK;
    if (!mongoc_client_command_simple(c->client, "admin", &cmd, NULL, &reply, &err))
        rv = chati_mongo_err(&err, "asking the server what it is");
    else
        c->s->claims = bson_iter_init_find(&it, &reply, "ferretdbVersion");
    bson_destroy(&reply);
    bson_destroy(&cmd);
    return rv;
}

/* Defaults that make a dead server an error within seconds, not minutes
 * (the driver's own: 30 s server selection, 10 s connect, 5 min socket),
 * and majority writes. A URL that sets them keeps its own; the rest passes
 * through, readPreference and its companions to the reads that may be
 * stale only (reads.c). */
static void uri_defaults(mongoc_uri_t *uri)
{
    static const struct {
        const char *opt;
        int32_t ms;
    } d[] = {
        {MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 3000},
        {MONGOC_URI_CONNECTTIMEOUTMS, 2000},
        {MONGOC_URI_SOCKETTIMEOUTMS, 10000},
    };
    for (size_t i = 0; i < CHATI_ARRAY_LEN(d); i++)
        if (!mongoc_uri_has_option(uri, d[i].opt))
            mongoc_uri_set_option_as_int32(uri, d[i].opt, d[i].ms);
    /* An acknowledged change must survive a replica set failover: majority
     * unless the URL says otherwise (a standalone server treats it as 1). */
    if (!mongoc_uri_has_option(uri, MONGOC_URI_W)) {
        mongoc_write_concern_t *wc = mongoc_write_concern_new();
        mongoc_write_concern_set_w(wc, MONGOC_WRITE_CONCERN_W_MAJORITY);
        mongoc_uri_set_write_concern(uri, wc);
        mongoc_write_concern_destroy(wc);
    }
}

chat_err chati_mongo_open(const char *url, chati_mongo **out)
{
    pthread_once(&init_once, driver_init);
    bson_error_t err;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(url, &err);
    if (uri == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "invalid MongoDB URL \"%s\": %s", url,
                          err.message);
    uri_defaults(uri);
    const char *dbname = mongoc_uri_get_database(uri);
    if (dbname == NULL || dbname[0] == '\0')
        dbname = "chat";
    if (strpbrk(dbname, "/\\. \"$") != NULL || strlen(dbname) > 63) {
        chat_err rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "invalid MongoDB database name \"%s\"",
                                 dbname);
        mongoc_uri_destroy(uri);
        return rv;
    }
    chati_mongo *s = chat_calloc(1, sizeof *s);
    if (s == NULL || (s->db = chat_strdup(dbname)) == NULL) {
        chat_free(s);
        mongoc_uri_destroy(uri);
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    }
    /* Reads that may be stale take the URL's read preference; the pool's
     * (everything else) is the primary's. */
    chati_mongo_reads_init(s, uri);
    s->pool = mongoc_client_pool_new(uri);
    mongoc_uri_destroy(uri);
    if (s->pool == NULL) {
        chati_mongo_reads_free(s);
        chat_free(s->db);
        chat_free(s);
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "MongoDB URL \"%s\" not usable", url);
    }
    mongoc_client_pool_set_error_api(s->pool, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_pool_set_appname(s->pool, "libchat");
    pthread_mutex_init(&s->wmu, NULL);
    uint8_t wid[8];
    chat_err rv = chati_random(wid, sizeof wid);
    chati_hex_encode(wid, sizeof wid, s->wid);
    if (rv == CHAT_OK)
        rv = chati_mongo_relay_new(s);

    chati_mongo_conn c;
    chati_mongo_conn_get(s, &c);
    if (rv == CHAT_OK)
        rv = detect_ferretdb(&c);
    bool filled = false;
    if (rv == CHAT_OK)
        rv = chati_mongo_upgraded(&c, "fill", &filled);
    if (rv == CHAT_OK && !filled)
        rv = fill_missing(c.msgs, "q");
    if (rv == CHAT_OK && !filled)
        rv = fill_missing(c.outbox, "i");
    if (rv == CHAT_OK && !filled)
        rv = chati_mongo_mark_upgraded(&c, "fill");
    if (rv == CHAT_OK)
        rv = create_indexes(&c);
    chati_mongo_conn_put(&c);
    if (rv != CHAT_OK) {
        chati_mongo_close(s);
        return rv;
    }
    *out = s;
    return CHAT_OK;
}
