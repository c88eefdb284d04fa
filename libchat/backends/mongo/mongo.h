/*
 * libchat/backends/mongo/mongo.h - the MongoDB message store's shared parts.
 *
 * Internal to backends/mongo/. One chati_mongo per opened store; every
 * operation borrows a client from its pool (mongoc_client_pool_t is
 * thread-safe, a mongoc_client_t is not), so reads run in parallel. Writes
 * that allocate a ts or an outbox seq run under `wmu` (see message_store.c
 * for why: MongoDB without transactions, as FerretDB 1.x is).
 *
 * Collections (names fixed; the database comes from the URL path, default
 * "chat"):
 *   messages  one document per message, see message_doc.c for its fields
 *   files     one document per file, _id = file id
 *   outbox    _id = seq (int64), t = topic, k = key, d = data (binary)
 *   meta      counters: {_id: "outbox" | "files", n: int64}
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

typedef struct chati_mongo {
    mongoc_client_pool_t *pool;
    char *db;                   /* database name */
    pthread_mutex_t wmu;        /* serialises ts and seq allocation with their writes */
    /* Under wmu: outbox items may still sit inside message documents (a
     * write got in but moving its item to the outbox collection did not, or
     * a process died in between): outbox_fetch sweeps them first. */
    bool dirty;
    /* Under wmu: messages whose outbox items are in the outbox collection
     * but not yet cleared from the document; cleared UNSET_BATCH at a time
     * with one update (on FerretDB every update by _id scans, so one per
     * change would double the cost of a post). Dropped when dirty: the
     * sweep clears them too. */
    char unset_ids[32][64];
    size_t n_unset;
    /* Under wmu: outbox seqs reserved from the counter, next <= seq < end
     * (reserved in blocks to save a round trip per change; a block left
     * unused by a closed store is a gap, which the relay does not mind). */
    int64_t seq_next, seq_end;
    /* Under wmu: newest ts per channel, loaded from the collection on first
     * use; see ts_last() in message_store.c. */
    chati_mongo_ts **ts_buckets;
} chati_mongo;

/* One borrowed client with the collections an operation needs. */
typedef struct chati_mongo_conn {
    chati_mongo *s;
    mongoc_client_t *client;
    mongoc_collection_t *msgs, *files, *outbox, *meta;
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
/* Raises counter `name` in meta by `by` and returns its new value in *out,
 * so the caller owns (*out - by, *out]; values are never handed out twice. */
chat_err chati_mongo_counter(chati_mongo_conn *c, const char *name, int64_t by, int64_t *out);
/* The next outbox seq (increasing, never reused). Under wmu. */
chat_err chati_mongo_next_seq(chati_mongo_conn *c, int64_t *seq);

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
/* A message read back. ts is the µs value, version the document's v. */
typedef struct chati_mongo_msg {
    chat_message *m;
    int64_t ts, thread, version;
    bool tombstone;
} chati_mongo_msg;
chat_err chati_mongo_msg_read(const bson_t *doc, chati_mongo_msg *out);
/* Runs find and appends each message to l (up to limit; *more when one more
 * came back). l may be NULL for a plain count of nothing. */
chat_err chati_mongo_find_page(mongoc_collection_t *coll, const bson_t *filter,
                               const bson_t *opts, int limit, chat_list *l, int64_t *last_ts,
                               bool *more, const char *what);
/* Loads message (channel, ts); message_not_found when absent or removed. */
chat_err chati_mongo_msg_load(chati_mongo_conn *c, const char *channel, int64_t ts,
                              chati_mongo_msg *out);

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

/* outbox.c */
/* Calls fn for m (when fn is non-NULL) and builds its outbox item into the
 * caller-initialised *item as {s: seq, t: topic, k: key, d: data}, seq taken
 * from the counter; *seq gets it, 0 when fn is NULL (item left empty). The
 * caller writes it into the message document with the change itself, which
 * makes change + event one single-document write. Under wmu. */
chat_err chati_mongo_outbox_item(chati_mongo_conn *c, chat_outbox_fn fn, void *arg,
                                 const chat_message *m, bson_t *item, int64_t *seq);
/* After the write that carried item: copies it into the outbox collection
 * and clears the document's pending items (deletes a tombstone). A failure
 * only marks the store dirty: the items are safe in the document. Under wmu. */
void chati_mongo_outbox_flush(chati_mongo_conn *c, const char *msg_id, const bson_t *item,
                              bool tombstone);

chat_err chati_mongo_outbox_fetch(void *impl, int64_t after_seq, size_t max,
                                  chat_outbox_item **items, size_t *n);
chat_err chati_mongo_outbox_ack(void *impl, int64_t up_to);
chat_err chati_mongo_outbox_add(void *impl, const chat_outbox_item *item);

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
