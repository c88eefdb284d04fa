/*
 * libchat/backends/mongo/mongo.h - the MongoDB message store's shared parts.
 *
 * Internal to backends/mongo/. One chati_mongo per opened store; every
 * operation borrows a client from its pool (mongoc_client_pool_t is
 * thread-safe, a mongoc_client_t is not), so reads run in parallel. Several
 * stores, in several processes, may write one database: nothing here relies
 * on being the only writer (message_store.c for ts, outbox.c and relay.c for
 * the outbox). `wmu` only orders this store's own writes.
 *
 * Collections (names fixed; the database comes from the URL path, default
 * "chat"):
 *   messages  one document per message, see message_doc.c for its fields
 *   files     one document per file, _id = file id
 *   staged    outbox items written before their change, not yet relayed
 *             (outbox.c)
 *   outbox    items in relay order: _id = seq (int64), i = item id, t = topic,
 *             k = key, d = data (binary)
 *   meta      {_id: "files", n} a counter; {_id: "relay"} the relay lease
 *             and the seq counter (relay.c); {_id: "upgrades"} the format
 *             upgrades done (chati_mongo_upgraded)
 *   claims    {_id: "<message _id>@<version>", t}: on FerretDB, who may
 *             change a message at that version (chati_mongo_claim)
 */
#ifndef CHATI_MONGO_H
#define CHATI_MONGO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include <chat/backend/store.h>

#include "core/internal.h"

typedef struct chati_mongo_ts chati_mongo_ts;
typedef struct chati_mongo_relay chati_mongo_relay;
typedef struct chati_mongo_recent chati_mongo_recent;

/* Item ids: "<store's writer id, 16 hex>.<counter>", unique across stores. */
#define CHATI_MONGO_ITEM_ID 40

/* Where a change stands among outbox items: the id of its item and its
 * stamp, a hybrid clock value (µs) above the stamps of every item it
 * depends on, so sorting by stamp never puts an item before one it needs. */
typedef struct chati_mongo_stamp {
    char id[CHATI_MONGO_ITEM_ID]; /* "" when there is no item */
    int64_t o;
} chati_mongo_stamp;

/* A change of a message document, for its outbox item: the document, how
 * its write is guarded (a post inserts it; any other change is an update
 * guarded by version `guard`), and the item it follows (dep->id "" for
 * none): the document's latest, or for a post the one of the message
 * before it in the channel. */
typedef struct chati_mongo_change {
    const char *doc;
    bool post;
    int64_t guard;
    const chati_mongo_stamp *dep;
} chati_mongo_change;

typedef struct chati_mongo {
    mongoc_client_pool_t *pool;
    char *db;                   /* database name */
    char wid[17];               /* random per open: item ids, lease owner */
    bool claims;                /* FerretDB: updates claim their version first */
    pthread_mutex_t wmu;        /* orders this store's writes (and what follows) */
    int64_t hlc;                /* under wmu: the last stamp handed out */
    uint64_t n_items;           /* under wmu: item counter */
    /* Under wmu: newest ts per channel with its stamp, loaded from the
     * collection on first use; see ts_last() in message_store.c. */
    chati_mongo_ts **ts_buckets;
    chati_mongo_relay *relay;   /* relay.c: lease and sequencer */
    /* reads.c: the URL's read preference for reads that may be stale (NULL:
     * primary; the pool's is always primary), and the channels this store
     * wrote in the last fresh_ms, read from the primary meanwhile. */
    mongoc_read_prefs_t *reads;
    int64_t fresh_ms;
    pthread_mutex_t rmu;        /* guards what follows */
    chati_mongo_recent *recent;
    size_t n_recent, cap_recent;
    int64_t all_primary_until;  /* every read primary until then (no memory to track) */
} chati_mongo;

/* One borrowed client with the collections an operation needs. */
typedef struct chati_mongo_conn {
    chati_mongo *s;
    mongoc_client_t *client;
    mongoc_collection_t *msgs, *files, *staged, *outbox, *meta, *claims;
} chati_mongo_conn;

/* conn.c */
void chati_mongo_conn_get(chati_mongo *s, chati_mongo_conn *c);
void chati_mongo_conn_put(chati_mongo_conn *c);
chat_err chati_mongo_open(const char *url, chati_mongo **out);
void chati_mongo_close(chati_mongo *s);
/* Maps a driver error: the server could not be reached (or went away, or
 * there is no primary just now) is CHAT_ERR_SERVICE_UNAVAILABLE, a
 * unique-index clash CHAT_ERR_DUPLICATE, anything else CHAT_ERR_STORAGE; the
 * detail says what was being done. */
chat_err chati_mongo_err(const bson_error_t *e, const char *what);
bool chati_mongo_is_dup(const bson_error_t *e);
/* Upgrades of a database of an earlier format, done once per database and
 * recorded in meta {_id: "upgrades", <step>: true}: the scans that look for
 * such documents read every message on FerretDB 1.x (about 4 s per 20,000
 * messages; two stores opening together passed the 10 s socket timeout), so
 * each runs until it has once succeeded. Steps: "fill" (q and i stand-ins,
 * at open), "ob" (items kept in message documents, the relay's first pass). */
chat_err chati_mongo_upgraded(chati_mongo_conn *c, const char *step, bool *done);
chat_err chati_mongo_mark_upgraded(chati_mongo_conn *c, const char *step);
/* Raises counter `name` in meta by `by` and returns its new value in *out,
 * so the caller owns (*out - by, *out]; values are never handed out twice. */
chat_err chati_mongo_counter(chati_mongo_conn *c, const char *name, int64_t by, int64_t *out);
/* Claims version `version` of message doc for an update guarded by it.
 * FerretDB 1.x updates are not atomic (it reads the document, changes it
 * and writes it back whole), so two updates guarded by one version can
 * both apply and one is lost; a claim is an insert, which its unique _id
 * makes atomic, so only one writer gets a version. *won: false when another
 * holds it (reload and retry); a claim older than CHATI_MONGO_CLAIM_MS is
 * taken over (its writer died). Always won on servers whose updates are
 * atomic (MongoDB). */
#define CHATI_MONGO_CLAIM_MS 10000 /* above the driver's 10 s socket timeout */
chat_err chati_mongo_claim(chati_mongo_conn *c, const char *doc, int64_t version, bool *won);
/* Gives a claim back after an update that certainly did not apply (why is
 * not service_unavailable). */
void chati_mongo_unclaim(chati_mongo_conn *c, const char *doc, int64_t version, chat_err why);
/* Appends s as element i of the open array arr. */
void chati_mongo_array_str(bson_t *arr, uint32_t i, const char *s);
/* Appends key: [n ids] to doc. */
void chati_mongo_append_ids(bson_t *doc, const char *key, const char (*ids)[CHAT_ID_SIZE],
                            size_t n);
/* Ends a cursor: rv, or when rv is CHAT_OK the cursor's error (while
 * `what`); the cursor is destroyed. */
chat_err chati_mongo_cursor_end(mongoc_cursor_t *cur, chat_err rv, const char *what);

/* reads.c */
/* Takes the URL's read preference into s and sets uri's to primary (before
 * the pool is made from it); chati_mongo_reads_free undoes it. */
void chati_mongo_reads_init(chati_mongo *s, mongoc_uri_t *uri);
void chati_mongo_reads_free(chati_mongo *s);
/* This store is about to change channel (NULL: a file). */
void chati_mongo_wrote(chati_mongo *s, const char *channel);
/* The read preference for a read that may be stale, of channel (NULL: the
 * file lists): NULL, the primary, when the URL names none or this store
 * wrote it lately; else the URL's (owned by s). */
const mongoc_read_prefs_t *chati_mongo_reads(chati_mongo *s, const char *channel);
/* Likewise for a read of several: keys (NULL entries: files) and channels;
 * with neither, the file lists. */
const mongoc_read_prefs_t *chati_mongo_reads_any(chati_mongo *s, const char *const *keys,
                                                 size_t n_keys,
                                                 const char (*channels)[CHAT_ID_SIZE],
                                                 size_t n_channels);

/* search_text.c */
/* Appends to array `arr` (an open BSON array) the distinct search tokens of
 * text: words case- and diacritic-folded (matched as prefixes). */
chat_err chati_mongo_tokens(const char *text, bson_t *arr);
/* Adds the conditions of a user's query to the open array `and` (of $and):
 * each word a prefix regex on the tokens, each CJK run a substring regex on
 * the text. *n gets how many; 0 means the query can match nothing (it had
 * no word or CJK characters). *any: whether it had anything but spaces. */
chat_err chati_mongo_query(const char *query, bson_t *and, size_t *n, bool *any);

/* message_doc.c */
/* Parses a required ts argument: `missing` when NULL or "", invalid_ts when
 * malformed. */
chat_err chati_mongo_parse_ts(const char *ts, int64_t *us, chat_err missing);
/* Message _id: "<channel>:<ts µs, 16 digits>", so (channel, ts) lookups are
 * _id lookups. */
void chati_mongo_msg_id(const char *channel, int64_t ts, char out[64]);
/* Builds the stored document of v (ts and thread already decided). */
chat_err chati_mongo_msg_doc(const chat_message *v, int64_t ts, int64_t thread, bson_t *doc);
/* Appends v's rich parts (message_doc.c's bk, at, md; with identity also un,
 * ie, iu, bi, fl), each only when set; without identity an unset one is
 * appended as null, so a $set of it removes what an edit took away. */
void chati_mongo_append_rich(bson_t *doc, const chat_message *v, bool identity);
/* A message read back. ts is the µs value, version the document's v, last
 * the stamp of its latest item (li, lo). */
typedef struct chati_mongo_msg {
    chat_message *m;
    int64_t ts, thread, version;
    chati_mongo_stamp last;
    bool tombstone;
} chati_mongo_msg;
chat_err chati_mongo_msg_read(const bson_t *doc, chati_mongo_msg *out);
/* Runs find and appends each message to l (up to limit; *more when one more
 * came back). l may be NULL for a plain count of nothing. */
chat_err chati_mongo_find_page(mongoc_collection_t *coll, const mongoc_read_prefs_t *prefs,
                               const bson_t *filter,
                               const bson_t *opts, int limit, chat_list *l, int64_t *last_ts,
                               bool *more, const char *what);
/* Loads message (channel, ts); message_not_found when absent or removed. */
chat_err chati_mongo_msg_load(chati_mongo_conn *c, const char *channel, int64_t ts,
                              chati_mongo_msg *out);

/* message_lists.c: reactions.list's messages */
chat_err chati_mongo_reacted(void *impl, const char *user, const char (*channels)[CHAT_ID_SIZE],
                             size_t n_channels, const char *cursor, int limit, chat_list **out);
/* scheduled.c: the message store's scheduled messages */
chat_err chati_mongo_schedule(void *impl, const chat_scheduled *q);
chat_err chati_mongo_list_scheduled(void *impl, const char *team_id, const char *user,
                                    const char *channel, size_t max, chat_scheduled **out,
                                    size_t *n);
chat_err chati_mongo_unschedule(void *impl, const char *id, const char *user);
chat_err chati_mongo_lease_scheduled(void *impl, int64_t now_ms, int64_t lease_ms, size_t max,
                                     chat_scheduled **out, size_t *n);

/* message_store.c */
/* The parent ts of the thread that thread_ts names (itself, or its parent
 * when it is a reply); thread_not_found when neither exists. */
chat_err chati_mongo_thread_parent(chati_mongo_conn *c, const char *channel, int64_t thread_ts,
                                   int64_t *pts);

/* message_lists.c: the ops of the same names (chat/backend/store.h). */
chat_err chati_mongo_history(void *impl, const char *channel, const char *latest,
                             const char *oldest, bool inclusive, int limit, const char *cursor,
                             chat_list **out);
chat_err chati_mongo_replies(void *impl, const char *channel, const char *thread_ts,
                             const char *latest, const char *oldest, bool inclusive, int limit,
                             const char *cursor, chat_list **out);
chat_err chati_mongo_search(void *impl, const char *query,
                            const char (*channels)[CHAT_ID_SIZE], size_t n_channels,
                            const char *cursor, int limit, chat_list **out);

/* outbox.c: the writers' side */
/* Calls fn for m (when fn is non-NULL) and writes its outbox item, with a
 * new id and a stamp above ch->dep's, as an intent that change ch will
 * commit. *st gets id and stamp (id "" when fn is NULL: no item). The
 * caller's write of ch, its commit point, then sets li = st->id, lo =
 * st->o (and pi = st->id for a post). Under wmu. */
chat_err chati_mongo_intend(chati_mongo_conn *c, chat_outbox_fn fn, void *arg,
                            const chat_message *m, const chati_mongo_change *ch,
                            chati_mongo_stamp *st);
/* The write of st's change failed with why: drops the intent, unless the
 * write may still land (service_unavailable), which the relay finds out. */
void chati_mongo_unintend(chati_mongo_conn *c, const chati_mongo_stamp *st, chat_err why);
chat_err chati_mongo_outbox_add(void *impl, const chat_outbox_item *item);

/* The relay's state (lease.c, relay.c), under mu. */
#define CHATI_MONGO_RELAYED_MAX 4096 /* item ids remembered as relayed */
#define CHATI_MONGO_WAIT_MAX 64      /* intents watched for their commit */
struct chati_mongo_relay {
    pthread_mutex_t mu;         /* one pass, fetch, ack, lease call at a time */
    int64_t ep;                 /* epoch held; 0: standby */
    int64_t renewed_ms;         /* monotonic time of the last take or renewal */
    int64_t first_seq;          /* this tenure's seqs are >= this */
    int64_t top_seq;            /* outbox holds no seq above this */
    bool old_swept;             /* documents of the earlier format looked at */
    int64_t tidied_ms;          /* when old claims were last deleted */
    /* Standby: the lease as last seen, since when unchanged, when read. */
    char seen_own[24];
    int64_t seen_ep, seen_n, seen_ms, watched_ms;
    /* Ids relayed in this tenure: what follows them need not look. */
    char (*ids)[CHATI_MONGO_ITEM_ID];
    uint32_t *slots;            /* 2 * RELAYED_MAX: index + 1 into ids, 0 = free */
    size_t n_ids;
    /* Intents whose change was not committed yet, since when (monotonic). */
    struct {
        char id[CHATI_MONGO_ITEM_ID];
        int64_t since;
    } wait[CHATI_MONGO_WAIT_MAX];
    size_t n_wait;
};

/* lease.c */
chat_err chati_mongo_relay_new(chati_mongo *s);
/* Gives the lease up (a standby takes it at once) and frees the state. */
void chati_mongo_relay_free(chati_mongo *s);
chat_err chati_mongo_outbox_lease(void *impl, bool *held);
/* Takes, renews or watches the lease; *held: whether this store holds it
 * now. Under relay->mu. */
chat_err chati_mongo_lease_check(chati_mongo_conn *c, bool *held);
/* Renews the lease held when due (also during a long pass). Under mu. */
chat_err chati_mongo_lease_renew(chati_mongo_conn *c);
/* Whether this store may act as the holder right now. */
bool chati_mongo_holding(const chati_mongo_relay *r);
/* The lease document's filter for this store's epoch: {_id, own, ep}. */
void chati_mongo_lease_filter(chati_mongo *s, bson_t *f);
/* findAndModify on meta; *value: the document after, NULL when f matched
 * nothing (caller frees). */
chat_err chati_mongo_lease_modify(chati_mongo_conn *c, const bson_t *f, const bson_t *update,
                                  bson_t **value, const char *what);
/* The number at key (0 when absent). */
int64_t chati_mongo_doc_int(const bson_t *doc, const char *key);

/* relay.c */
/* Forgets the ids known as relayed (a new tenure). */
void chati_mongo_relayed_clear(chati_mongo_relay *r);
chat_err chati_mongo_outbox_fetch(void *impl, int64_t after_seq, size_t max,
                                  chat_outbox_item **items, size_t *n);
chat_err chati_mongo_outbox_ack(void *impl, int64_t up_to);

/* files.c */
chat_err chati_mongo_file_insert(void *impl, const chat_file *f);
chat_err chati_mongo_file_get(void *impl, const char *file_id, chat_file **out);
chat_err chati_mongo_file_list(void *impl, const char *team_id, const char *channel,
                               const char *user, const char *visible_to,
                               const char (*channels)[CHAT_ID_SIZE], size_t n_channels,
                               const char *cursor, int limit, chat_list **out);
chat_err chati_mongo_file_delete(void *impl, const char *file_id);
chat_err chati_mongo_file_complete(void *impl, const char *file_id, int64_t size,
                                   const char *sha256_hex);
chat_err chati_mongo_file_set_title(void *impl, const char *file_id, const char *title);
/* Adds channel to the files' channels (unknown ids ignored). */
chat_err chati_mongo_files_share(chati_mongo_conn *c, const char (*files)[CHAT_ID_SIZE],
                                 size_t n, const char *channel);

#endif
