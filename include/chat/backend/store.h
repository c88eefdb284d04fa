/*
 * chat/backend/store.h - the storage interfaces, one per service domain.
 *
 * Each is a versioned const table of function pointers plus the backend's own
 * `void *impl`, registered by URL scheme ("sqlite", "postgresql", "mongodb").
 * libchat opens one instance per domain with the URL from the configuration.
 *
 * Rules for every backend:
 * - Thread safety: impl is shared by every thread of the context; each
 *   function may be called concurrently and must synchronise itself.
 * - Errors: return a chat_err and set detail text with chat_set_errmsg().
 *   A failed call changes nothing (one transaction per call).
 * - Ownership: inputs are borrowed for the call; outputs (*out) are new objects
 *   the caller frees with the matching chat_*_free / chat_list_free, set only on
 *   CHAT_OK (and on CHAT_ERR_DUPLICATE where a function says so).
 * - Cursors are opaque strings the backend makes and checks (invalid_cursor).
 * - Timestamps: message ts are strings "SSSSSSSSSS.UUUUUU"; store them so they
 *   order numerically (e.g. as integer microseconds).
 * - Each interface has a contract test suite in tests/contract/ that every
 *   implementation must pass.
 * - Methods are required unless their comment begins "Optional:", which says
 *   what libchat does when the pointer is NULL. Registration refuses a table
 *   whose version is 0 or newer than CHAT_STORE_V6, or whose required methods
 *   are NULL; later versions only append methods (chat/backend/types.h), so
 *   V1 tables are still accepted.
 */
#ifndef CHAT_BACKEND_STORE_H
#define CHAT_BACKEND_STORE_H

#include <chat/backend/types.h>
#include <chat/config.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The versions of the four store interfaces this header describes. V2
 * appended outbox_lease to the message store, V3 import, V4 the apps of the
 * auth store, V5 their event queue; a table may say any version up to the one
 * that has its last method. */
#define CHAT_STORE_V1 1u
#define CHAT_STORE_V2 2u
#define CHAT_STORE_V3 3u
#define CHAT_STORE_V4 4u
#define CHAT_STORE_V5 5u
#define CHAT_STORE_V6 6u

/* ---------------------------------------------------------------- auth --- */

typedef struct chat_auth_store_ops {
    uint32_t version;           /* CHAT_STORE_V1 */
    const char *scheme;
    chat_err (*open)(const char *url, const chat_config *cfg, void **impl);
    void (*close)(void *impl);
    /* Inserts a credential; email_taken if the (lower-cased) email exists. */
    chat_err (*create)(void *impl, const chat_credential *c);
    /* not_found when absent. */
    chat_err (*get_by_email)(void *impl, const char *email, chat_credential **out);
    chat_err (*get)(void *impl, const char *user_id, chat_credential **out);
    /* Replaces the hash and increments token_gen; *new_gen (may be NULL) gets it. */
    chat_err (*set_password)(void *impl, const char *user_id, const char *pwhash,
                             int64_t *new_gen);
    /* Increments token_gen (revokes older tokens). */
    chat_err (*bump_generation)(void *impl, const char *user_id, int64_t *new_gen);
    chat_err (*set_active)(void *impl, const char *user_id, bool active);
    /* Optional: libchat does not call it yet, so NULL changes nothing.
     * Deletes a credential (undoing a sign-up that failed half-way). */
    chat_err (*remove)(void *impl, const char *user_id);

    /* Optional (V4), all four or none: apps (chat_app). When NULL, creating
     * an app fails with not_supported and no bot token verifies.
     * Inserts an app; duplicate when its id, bot id or bot user exists. */
    chat_err (*create_app)(void *impl, const chat_app *a);
    /* By app id ("A...") or bot id ("B..."); not_found when absent. */
    chat_err (*get_app)(void *impl, const char *id, chat_app **out);
    /* The apps of team_id by id: *out is an array of *n apps (free each with
     * chat_app_free, then the array with chat_free). */
    chat_err (*list_apps)(void *impl, const char *team_id, chat_app ***out, size_t *n);
    /* Increments the app's token_gen (revokes its tokens); *new_gen (may be
     * NULL) gets it. not_found when absent. */
    chat_err (*bump_app_generation)(void *impl, const char *app_id, int64_t *new_gen);

    /* Optional (V5), all four or none: the events waiting for each app.
     * When NULL, apps get no events (apps.connections.open: not_supported).
     * Queues n events (data copied) in one transaction, each after the
     * app's others (seq); one whose (app_id, event_id, kind) is already
     * queued, or was acknowledged and not yet dropped, is skipped: the
     * broker delivers at least once, an app hears an event once. */
    chat_err (*queue_app_events)(void *impl, const chat_app_event *evs, size_t n);
    /* Leases up to max of app_id's events for lease_ms from now_ms, oldest
     * first: those never leased or whose lease ran out. Each lease counts
     * an attempt; first drops those whose lease ran out after max_attempts
     * and every one (acknowledged or not) created before created_after_ms.
     * *out (chat_app_events_free) gets *n events, attempts counted. */
    chat_err (*lease_app_events)(void *impl, const char *app_id, int64_t now_ms,
                                 int64_t lease_ms, int max_attempts, int64_t created_after_ms,
                                 size_t max, chat_app_event **out, size_t *n);
    /* Marks app_id's events numbered seqs acknowledged: never leased again,
     * kept (without data) until dropped; unknown ones are ignored. */
    chat_err (*ack_app_events)(void *impl, const char *app_id, const int64_t *seqs, size_t n);
    /* The ids of up to max apps with events due at now_ms (never leased, or
     * their lease ran out), in any order; *ids freed with chat_free. */
    chat_err (*due_apps)(void *impl, int64_t now_ms, size_t max, char (**ids)[CHAT_ID_SIZE],
                         size_t *n);

    /* Optional (V6), all four or none: the views apps show people
     * (chat_view). When NULL, views.* answer not_supported.
     * Inserts a view; duplicate when its id exists, or another view of its
     * app has its trigger or its external_id. */
    chat_err (*create_view)(void *impl, const chat_view *v);
    /* By id ("V..."), or when id is NULL by app_id's external_id;
     * not_found when absent. */
    chat_err (*get_view)(void *impl, const char *id, const char *app_id,
                         const char *external_id, chat_view **out);
    /* Sets v->id's hash, body, values, open, updated_ms and external_id
     * (a closed view gives its external_id up), when its hash
     * is if_hash (any hash when if_hash is NULL): hash_conflict when not,
     * not_found when there is no such view. */
    chat_err (*update_view)(void *impl, const chat_view *v, const char *if_hash);
    /* Drops the views not updated since before_ms, but for open App Home
     * views (open, no trigger, no previous view): those stay till replaced. */
    chat_err (*drop_views)(void *impl, int64_t before_ms);
} chat_auth_store_ops;

/* ---------------------------------------------------------------- user --- */

/* One message-activity record, from the message.* events, for unread counts. */
typedef enum chat_activity_kind {
    CHAT_ACTIVITY_POSTED = 1,   /* a counted message appeared */
    CHAT_ACTIVITY_EDITED = 2,   /* its mentions may have changed */
    CHAT_ACTIVITY_DELETED = 3   /* it no longer counts */
} chat_activity_kind;

typedef struct chat_activity {
    const char *event_id;       /* applying the same event id twice changes nothing */
    chat_activity_kind kind;
    const char *channel;
    const char *ts;
    const char *author;
    unsigned mention_flags;     /* CHAT_MENTION_* */
    size_t n_mentions;
    const char (*mentions)[CHAT_ID_SIZE];
} chat_activity;

typedef struct chat_user_store_ops {
    uint32_t version;           /* CHAT_STORE_V1 */
    const char *scheme;
    chat_err (*open)(const char *url, const chat_config *cfg, void **impl);
    void (*close)(void *impl);

    /* Workspaces. name_taken when the domain exists. */
    chat_err (*create_team)(void *impl, const chat_team *t);
    chat_err (*get_team)(void *impl, const char *team_id, chat_team **out);
    /* domain NULL: the first workspace created. not_found when none. */
    chat_err (*get_team_by_domain)(void *impl, const char *domain, chat_team **out);

    /* Users. create: name_taken when (team, name) exists, email_taken for email. */
    chat_err (*create_user)(void *impl, const chat_user *u);
    chat_err (*get_user)(void *impl, const char *user_id, chat_user **out);
    chat_err (*get_user_by_email)(void *impl, const char *team_id, const char *email,
                                  chat_user **out);
    /* Replaces the profile fields, is_admin, deleted and updated of u->id. */
    chat_err (*update_user)(void *impl, const chat_user *u);
    /* By id ascending; CHAT_LIST_USERS with next_cursor when more remain. */
    chat_err (*list_users)(void *impl, const char *team_id, const char *cursor, int limit,
                           chat_list **out);

    /* Read markers: the ts up to which a user has read a channel ("" = none). */
    chat_err (*set_read_marker)(void *impl, const char *user_id, const char *channel,
                                const char *ts);
    chat_err (*get_read_marker)(void *impl, const char *user_id, const char *channel,
                                char ts_out[CHAT_TS_SIZE]);

    /* Optional, like counts below (both serve unread counts; a store offers
     * both or neither): when NULL, libchat keeps no activity in this store
     * (no "user" consumer group is started).
     * Applies activity records in one transaction, each event id at most once. */
    chat_err (*apply_activity)(void *impl, const chat_activity *items, size_t n);
    /* Messages in channel after the user's read marker, not by the user and not
     * deleted; and of those, the ones mentioning the user (by id, or with
     * CHAT_MENTION_CHANNEL / CHAT_MENTION_HERE). Optional: when NULL, a
     * channel's unread_count and mention_count read as 0. */
    chat_err (*counts)(void *impl, const char *user_id, const char *channel,
                       int64_t *unread, int64_t *mentions);
    /* Deletes a user (undoing a sign-up that failed half-way). user_not_found. */
    chat_err (*delete_user)(void *impl, const char *user_id);

    /* Optional (V6), both or neither: user groups. When NULL, usergroups.*
     * answer not_supported.
     * Inserts g, or replaces every field of the group with g->id; duplicate
     * when another group of its team has its name or its handle. */
    chat_err (*put_usergroup)(void *impl, const chat_usergroup *g);
    /* The team's groups by name: *out (chat_usergroups_free), *n. */
    chat_err (*list_usergroups)(void *impl, const char *team_id, chat_usergroup **out,
                                size_t *n);
} chat_user_store_ops;

/* ------------------------------------------------------------- channel --- */

typedef struct chat_channel_store_ops {
    uint32_t version;           /* CHAT_STORE_V1 */
    const char *scheme;
    chat_err (*open)(const char *url, const chat_config *cfg, void **impl);
    void (*close)(void *impl);

    /* Inserts c and its n first members in one transaction. name_taken when
     * (team, name) exists; for DMs, CHAT_ERR_DUPLICATE when c->dm_key exists,
     * with *existing (may be NULL) set to that channel. */
    chat_err (*create)(void *impl, const chat_channel *c, const char (*members)[CHAT_ID_SIZE],
                       size_t n, chat_channel **existing);
    /* member_count filled in; caller-relative fields left zero. */
    chat_err (*get)(void *impl, const char *channel_id, chat_channel **out);
    chat_err (*get_by_name)(void *impl, const char *team_id, const char *name,
                            chat_channel **out);
    chat_err (*get_by_dm_key)(void *impl, const char *team_id, const char *dm_key,
                              chat_channel **out);
    /* Replaces name, topic*, purpose*, is_archived. name_taken on rename clash. */
    chat_err (*update)(void *impl, const chat_channel *c);
    /* Channels of the team whose type is in types: public ones, plus private
     * ones and DMs where member_of (may be NULL = none) is a member. By id. */
    chat_err (*list)(void *impl, const char *team_id, unsigned types, bool exclude_archived,
                     const char *member_of, const char *cursor, int limit, chat_list **out);
    /* Channels user_id belongs to, filtered by types. By id. */
    chat_err (*list_for_member)(void *impl, const char *user_id, unsigned types,
                                bool exclude_archived, const char *cursor, int limit,
                                chat_list **out);

    /* Adds members (already-present ones are skipped); *added (may be NULL)
     * counts the new ones. One transaction. */
    chat_err (*add_members)(void *impl, const char *channel_id,
                            const char (*users)[CHAT_ID_SIZE], size_t n, size_t *added);
    /* not_in_channel when the user is not a member. */
    chat_err (*remove_member)(void *impl, const char *channel_id, const char *user_id);
    chat_err (*is_member)(void *impl, const char *channel_id, const char *user_id,
                          bool *out);
    /* Member ids in join order. CHAT_LIST_STRINGS. */
    chat_err (*list_members)(void *impl, const char *channel_id, const char *cursor,
                             int limit, chat_list **out);
    /* Optional: when NULL, last_activity is not kept (no "channel" consumer
     * group is started) and stays as create/update left it.
     * Raises last_activity of each (channel, ts) pair to ts if newer. */
    chat_err (*touch_activity)(void *impl, const char (*channels)[CHAT_ID_SIZE],
                               const char (*ts)[CHAT_TS_SIZE], size_t n);

    /* Optional (V6), all three or none: pins. When NULL, pins.* answer
     * not_supported.
     * Pins p->ts to p->channel, as p->user did at p->created; duplicate when
     * it is pinned already, too_many_pins when the channel has max pins. */
    chat_err (*add_pin)(void *impl, const chat_pin *p, size_t max);
    /* not_found when ts is not pinned to the channel. */
    chat_err (*remove_pin)(void *impl, const char *channel_id, const char *ts);
    /* The channel's pins, newest first: *out (chat_free) gets *n. */
    chat_err (*list_pins)(void *impl, const char *channel_id, chat_pin **out, size_t *n);

    /* Optional (V6), all three or none: bookmarks. When NULL, bookmarks.*
     * answer not_supported.
     * Inserts b, or (b->id exists) sets its title, link, emoji, updated_by
     * and updated; too_many_bookmarks when a new one would make the
     * channel's more than max; not_found when b->id is in another channel. */
    chat_err (*put_bookmark)(void *impl, const chat_bookmark *b, size_t max);
    /* not_found when the channel has no such bookmark. */
    chat_err (*remove_bookmark)(void *impl, const char *channel_id, const char *id);
    /* The channel's bookmarks, oldest first: *out (chat_bookmarks_free), *n. */
    chat_err (*list_bookmarks)(void *impl, const char *channel_id, chat_bookmark **out,
                               size_t *n);
} chat_channel_store_ops;

/* ------------------------------------------------------------- message --- */

/* An event to write in the same transaction as a change (the outbox), so an
 * acknowledged change is never lost even when the broker is down. */
typedef struct chat_outbox_item {
    int64_t seq;                /* assigned by the store, increasing */
    char *topic;
    char *key;                  /* partition key: the channel id */
    void *data;
    size_t len;
} chat_outbox_item;
CHAT_API void chat_outbox_items_free(chat_outbox_item *items, size_t n);

/* Called by the store inside its transaction with the message as it will be
 * stored (ts assigned, counters updated), to produce the outbox item. Fill
 * topic, key and data with chat_malloc'd memory; the store takes them. */
typedef chat_err (*chat_outbox_fn)(void *arg, const chat_message *m, chat_outbox_item *out);

typedef struct chat_message_store_ops {
    uint32_t version;           /* CHAT_STORE_V3 (V2 ends after outbox_lease, V1 after
                                   file_set_title) */
    const char *scheme;
    chat_err (*open)(const char *url, const chat_config *cfg, void **impl);
    void (*close)(void *impl);

    /* Stores m with m->ts chosen as max(now_us, newest ts in the channel + 1us),
     * so ts strictly increase per channel. If m->client_msg_id is set and a
     * message in the channel has it, stores nothing and returns
     * CHAT_ERR_DUPLICATE with *out set to that message. A reply (thread_ts set)
     * updates its parent's reply_count, latest_reply and reply_users
     * (thread_not_found if there is no parent). Files in m->files gain the
     * channel. Calls outbox(outbox_arg, stored) once (when non-NULL). */
    chat_err (*post)(void *impl, const chat_message *m, int64_t now_us, chat_outbox_fn outbox,
                     void *outbox_arg, chat_message **out);
    chat_err (*get)(void *impl, const char *channel, const char *ts, chat_message **out);
    /* Sets text, mentions, mention_flags, edited_user, edited_ts, blocks,
     * attachments and metadata from m (a NULL one is removed); username,
     * icons, bot_id and flags stay as posted. */
    chat_err (*update)(void *impl, const chat_message *m, chat_outbox_fn outbox,
                       void *outbox_arg, chat_message **out);
    /* Removes the message (a reply also leaves its parent's counters); its
     * last state goes to outbox. message_not_found when absent. */
    chat_err (*remove)(void *impl, const char *channel, const char *ts,
                       chat_outbox_fn outbox, void *outbox_arg);
    /* already_reacted / no_reaction. The message after the change goes to outbox. */
    chat_err (*add_reaction)(void *impl, const char *channel, const char *ts,
                             const char *name, const char *user, chat_outbox_fn outbox,
                             void *outbox_arg);
    chat_err (*remove_reaction)(void *impl, const char *channel, const char *ts,
                                const char *name, const char *user, chat_outbox_fn outbox,
                                void *outbox_arg);
    /* conversations.history semantics: top-level messages and broadcast replies,
     * newest first; latest/oldest NULL or "" = unbounded; has_more set. */
    chat_err (*history)(void *impl, const char *channel, const char *latest,
                        const char *oldest, bool inclusive, int limit, const char *cursor,
                        chat_list **out);
    /* The parent, then replies oldest first, within latest/oldest. */
    chat_err (*replies)(void *impl, const char *channel, const char *thread_ts,
                        const char *latest, const char *oldest, bool inclusive, int limit,
                        const char *cursor, chat_list **out);
    /* Optional: when NULL, chat_message_search fails with not_supported.
     * Full text over messages of the given channels, newest first. Words match
     * as prefixes; CJK runs match as substrings. */
    chat_err (*search)(void *impl, const char *query, const char (*channels)[CHAT_ID_SIZE],
                       size_t n_channels, const char *cursor, int limit, chat_list **out);

    /* File metadata. */
    chat_err (*file_insert)(void *impl, const chat_file *f);
    chat_err (*file_get)(void *impl, const char *file_id, chat_file **out);
    /* Newest first; channel/user NULL = any; only files shared in one of the
     * given channels or uploaded by visible_to (the caller). */
    chat_err (*file_list)(void *impl, const char *team_id, const char *channel,
                          const char *user, const char *visible_to,
                          const char (*channels)[CHAT_ID_SIZE], size_t n_channels,
                          const char *cursor, int limit, chat_list **out);
    /* Marks the file deleted (file_get then reports deleted = true). */
    chat_err (*file_delete)(void *impl, const char *file_id);

    /* Outbox relay: items not yet acknowledged, oldest first, after seq. */
    chat_err (*outbox_fetch)(void *impl, int64_t after_seq, size_t max, chat_outbox_item **items,
                             size_t *n);
    /* Forgets items with seq <= up_to. */
    chat_err (*outbox_ack)(void *impl, int64_t up_to);
    /* Optional: when NULL, such events go straight to the broker (and a
     * broker outage loses them).
     * Appends an event that is not a message change (membership, marks, ...)
     * so it reaches consumers in order with the message events and survives a
     * broker outage like them. topic, key and data are copied. */
    chat_err (*outbox_add)(void *impl, const chat_outbox_item *item);

    /* Optional: when NULL, two-step uploads (chat_file_upload_begin/_finish)
     * fail with not_supported.
     * Completes a pending file: one that file_insert stored with sha256 ""
     * while its bytes were still on their way. Sets size and sha256 (64
     * lower-case hex digits) in one step, only while the file is pending:
     * file_not_found when absent, file_deleted when deleted, CHAT_ERR_DUPLICATE
     * when it was already completed (a second upload of the same file).
     * file_list never returns pending files; file_get does. */
    chat_err (*file_complete)(void *impl, const char *file_id, int64_t size,
                              const char *sha256_hex);
    /* Optional: when NULL, chat_file_set_title fails with not_supported.
     * Replaces a file's title (files.completeUploadExternal names a file
     * after its bytes arrived). file_not_found when absent, file_deleted
     * when deleted. */
    chat_err (*file_set_title)(void *impl, const char *file_id, const char *title);

    /* ---- CHAT_STORE_V2 ---- */

    /* Optional: when NULL (or in a V1 table), every context relays the
     * outbox it opened, which is right while one process uses the store.
     * For a store that several processes share, each running a relay: takes
     * the relay lease when nobody holds it or its holder stopped renewing it
     * (for a few seconds: a dead process), renews it when this store
     * instance holds it, and sets *held to whether it holds it now. Only the
     * holder's outbox_fetch returns items (a standby's returns none) and only
     * its outbox_ack acts (others fail with service_unavailable); both take
     * or renew the lease like this call. The relay calls it before each pass;
     * when *held turns true it starts over from the oldest unacknowledged
     * item, so what a holder published but had not acknowledged when it died
     * is published again (consumers drop duplicates by event id). */
    chat_err (*outbox_lease)(void *impl, bool *held);

    /* ---- CHAT_STORE_V3 ---- */

    /* Optional: when NULL (or in an older table), chat_message_import fails
     * with not_supported.
     * Stores n old messages of one channel (an export's history) with the
     * ts, user, team_id, text, mentions and mention_flags they carry, in one
     * transaction: all or none. Every msgs[i].channel is channel and the ts
     * strictly increase (libchat checks both); they may fall between
     * messages already stored. CHAT_ERR_DUPLICATE when a ts is already
     * stored in the channel, the detail naming it. Top-level messages only:
     * thread_ts, client_msg_id, files and reactions are ignored. Writes no
     * outbox items: an import is not news (no events, no unread counts).
     * The messages are in history and search when it returns. */
    chat_err (*import)(void *impl, const char *channel, const chat_message *msgs, size_t n);

    /* Optional (V6), all four or none: messages waiting for their time
     * (chat.scheduleMessage). When NULL, scheduling answers not_supported.
     * Stores q (strings copied); duplicate when its id exists. */
    chat_err (*schedule)(void *impl, const chat_scheduled *q);
    /* Up to max of the messages user scheduled in team_id (channel: NULL
     * for every channel), soonest first: *out (chat_scheduled_free), *n. */
    chat_err (*list_scheduled)(void *impl, const char *team_id, const char *user,
                               const char *channel, size_t max, chat_scheduled **out,
                               size_t *n);
    /* Removes id, when user scheduled it (user NULL: whoever did);
     * not_found otherwise. */
    chat_err (*unschedule)(void *impl, const char *id, const char *user);
    /* Leases up to max messages due (post_at <= now_ms / 1000) whose lease
     * ran out, for lease_ms from now_ms, soonest first: *out, *n. */
    chat_err (*lease_scheduled)(void *impl, int64_t now_ms, int64_t lease_ms, size_t max,
                                chat_scheduled **out, size_t *n);

    /* Optional (V6): when NULL, reactions.list answers not_supported.
     * The messages of channels that user reacted to, newest first (by ts,
     * then channel), with search's paging. CHAT_LIST_MESSAGES. */
    chat_err (*reacted)(void *impl, const char *user, const char (*channels)[CHAT_ID_SIZE],
                        size_t n_channels, const char *cursor, int limit, chat_list **out);
} chat_message_store_ops;

/* Registers a store under ops->scheme, replacing a table registered earlier
 * under that scheme (the application's own or a built-in one). ops is
 * borrowed and must outlive every context that uses it. not_supported when
 * ops->version is 0 or newer than CHAT_STORE_V3; invalid_arguments when ops,
 * its scheme or a required method is NULL; the detail says which. Thread-safe. */
CHAT_API chat_err chat_auth_store_register(const chat_auth_store_ops *ops);
CHAT_API chat_err chat_user_store_register(const chat_user_store_ops *ops);
CHAT_API chat_err chat_channel_store_register(const chat_channel_store_ops *ops);
CHAT_API chat_err chat_message_store_register(const chat_message_store_ops *ops);

#ifdef __cplusplus
}
#endif
#endif
