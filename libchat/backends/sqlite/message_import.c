/*
 * libchat/backends/sqlite/message_import.c - import: many old messages of one
 * channel, with their own ts, in one transaction that also indexes them for
 * search. A caller brings millions in batches of many thousands: one COMMIT
 * (and one FTS5 segment) per batch instead of one per message is what makes
 * it fast.
 */
#include <inttypes.h>
#include <string.h>

#include "backends/sqlite/message_store.h"

static chat_err import_one(chati_sqlite_msgs *s, sqlite3_stmt *st, const char *channel,
                           const chat_message *m, int64_t id, int64_t ts, chati_buf *mentions)
{
    mentions->len = 0;
    if (mentions->data != NULL)
        mentions->data[0] = '\0';
    chat_err rv = chati_sqlite_ids_join((const char(*)[CHAT_ID_SIZE])m->mentions, m->n_mentions,
                                        mentions);
    if (rv != CHAT_OK)
        return rv;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, channel);
    sqlite3_bind_int64(st, 3, ts);
    bind_text(st, 4, m->user);
    bind_text(st, 5, m->team_id);
    bind_text(st, 6, m->text);
    bind_opt(st, 7, m->subtype);
    bind_opt(st, 8, mentions->len > 0 ? mentions->data : NULL);
    sqlite3_bind_int(st, 9, (int)m->mention_flags);
    rv = step_done(s, st, "importing message");
    if (rv == CHAT_ERR_DUPLICATE)
        return chati_fail(CHAT_ERR_DUPLICATE, "a message with ts %s is already in %s", m->ts,
                          channel);
    if (rv == CHAT_OK)
        rv = chati_sqlite_fts_add(s, id, m->text);
    return rv;
}

static chat_err import_locked(chati_sqlite_msgs *s, const char *channel, const chat_message *msgs,
                              const int64_t *ts, size_t n)
{
    /* The watermark says "every id up to here is indexed, none above": index
     * what posts left pending first, so the imported ids can follow it. */
    int64_t done = 0, top = 0;
    chat_err rv = chati_sqlite_fts_catch_up(s, &done);
    sqlite3_stmt *st;
    if (rv == CHAT_OK && (rv = prep(s, "SELECT max(id) FROM messages", &st)) == CHAT_OK) {
        int rc = sqlite3_step(st);
        top = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        if (rc != SQLITE_ROW)
            rv = chati_db_err(s->db, rc, "importing messages");
    }
    if (rv == CHAT_OK)
        rv = prep(s,
                  "INSERT INTO messages(id, channel, ts, user, team, text, subtype, mentions, "
                  "mention_flags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                  &st);
    if (rv != CHAT_OK)
        return rv;
    /* Above both, as post_insert chooses ids: an id once indexed is never reused. */
    int64_t id = (top > done ? top : done) + 1;
    chati_buf mentions = {0};
    for (size_t i = 0; i < n && rv == CHAT_OK; i++)
        rv = import_one(s, st, channel, &msgs[i], id + (int64_t)i, ts[i], &mentions);
    chati_buf_free(&mentions);
    if (rv == CHAT_OK)
        rv = chati_sqlite_fts_set_done(s, id + (int64_t)n - 1);
    return rv;
}

chat_err chati_sqlite_import(void *impl, const char *channel, const chat_message *msgs, size_t n)
{
    chati_sqlite_msgs *s = impl;
    if (channel == NULL || channel[0] == '\0' || (msgs == NULL && n > 0))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "import: no channel or no messages");
    if (n == 0)
        return CHAT_OK;
    int64_t *ts = chat_malloc(n * sizeof *ts);
    if (ts == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "import of %zu messages", n);
    chat_err rv = CHAT_OK;
    for (size_t i = 0; i < n && rv == CHAT_OK; i++) {
        if (strcmp(msgs[i].channel, channel) != 0)
            rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "import: message %zu is for %s, not %s",
                            i, msgs[i].channel, channel);
        else if ((rv = parse_ts(msgs[i].ts, &ts[i], CHAT_ERR_INVALID_TS)) == CHAT_OK && i > 0 &&
                 ts[i] <= ts[i - 1])
            rv = chati_fail(CHAT_ERR_INVALID_TS, "import: ts %s does not follow %s",
                            msgs[i].ts, msgs[i - 1].ts);
    }
    if (rv == CHAT_OK)
        rv = chati_db_begin(s->db);
    if (rv == CHAT_OK) {
        rv = import_locked(s, channel, msgs, ts, n);
        if (rv == CHAT_OK)
            rv = chati_db_commit(s->db);
        else
            chati_db_rollback(s->db);
    }
    chat_free(ts);
    return rv;
}
