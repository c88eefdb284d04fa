/* Messages waiting for their time (chat.scheduleMessage) in the SQLite
 * message store: one row each until it is posted or deleted; the scheduler
 * leases due rows, so two processes never post one at the same time. */
#include <string.h>

#include "backends/sqlite/message_store.h"

#define SCHED_COLS "id, team_id, channel, user_id, post_at, created, text, data"

static bool bad_id(const char *id)
{
    return id == NULL || id[0] == '\0' || strlen(id) >= CHAT_ID_SIZE;
}

chat_err chati_sqlite_schedule(void *impl, const chat_scheduled *q)
{
    chati_sqlite_msgs *s = impl;
    if (q == NULL || bad_id(q->id) || bad_id(q->team_id) || bad_id(q->channel) ||
        bad_id(q->user) || q->text == NULL || q->data == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a scheduled message needs ids and data");
    chati_db_lock(s->db);
    sqlite3_stmt *st;
    chat_err rv = prep(s, "INSERT INTO scheduled (" SCHED_COLS ") VALUES"
                          " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, q->id);
        bind_text(st, 2, q->team_id);
        bind_text(st, 3, q->channel);
        bind_text(st, 4, q->user);
        sqlite3_bind_int64(st, 5, q->post_at);
        sqlite3_bind_int64(st, 6, q->created);
        bind_text(st, 7, q->text);
        bind_text(st, 8, q->data);
        rv = step_done(s, st, "scheduling a message");
    }
    chati_db_unlock(s->db);
    return rv;
}

/* The rows st returns, up to max, into *out. */
static chat_err read_rows(chati_sqlite_msgs *s, sqlite3_stmt *st, size_t max,
                          chat_scheduled **out, size_t *n)
{
    chat_scheduled *qs = NULL;
    size_t k = 0;
    chat_err rv = CHAT_OK;
    int rc;
    while (rv == CHAT_OK && k < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        chat_scheduled *grown = grow(qs, k, sizeof *qs);
        if (grown == NULL) {
            rv = chati_fail(CHAT_ERR_NOMEM, "scheduled messages");
            break;
        }
        qs = grown;
        chat_scheduled *q = &qs[k++];
        memset(q, 0, sizeof *q);
        chati_db_col_fixed(st, 0, q->id, sizeof q->id);
        chati_db_col_fixed(st, 1, q->team_id, sizeof q->team_id);
        chati_db_col_fixed(st, 2, q->channel, sizeof q->channel);
        chati_db_col_fixed(st, 3, q->user, sizeof q->user);
        q->post_at = sqlite3_column_int64(st, 4);
        q->created = sqlite3_column_int64(st, 5);
        if ((rv = col_dup(st, 6, &q->text)) == CHAT_OK)
            rv = col_dup(st, 7, &q->data);
    }
    if (rv == CHAT_OK && k < max && rc != SQLITE_DONE)
        rv = chati_db_err(s->db, rc, "reading scheduled messages");
    sqlite3_reset(st);
    if (rv != CHAT_OK) {
        chat_scheduled_free(qs, k);
        return rv;
    }
    *out = qs;
    *n = k;
    return CHAT_OK;
}

chat_err chati_sqlite_list_scheduled(void *impl, const char *team_id, const char *user,
                                     const char *channel, size_t max, chat_scheduled **out,
                                     size_t *n)
{
    chati_sqlite_msgs *s = impl;
    if (bad_id(team_id) || bad_id(user) || out == NULL || n == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a team and a user");
    *out = NULL;
    *n = 0;
    chati_db_lock(s->db);
    sqlite3_stmt *st;
    chat_err rv = prep(s, "SELECT " SCHED_COLS " FROM scheduled WHERE team_id = ?1 AND"
                          " user_id = ?2 AND (?3 IS NULL OR channel = ?3)"
                          " ORDER BY post_at, id LIMIT ?4", &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, team_id);
        bind_text(st, 2, user);
        bind_opt(st, 3, channel);
        sqlite3_bind_int64(st, 4, (int64_t)max);
        rv = read_rows(s, st, max, out, n);
    }
    chati_db_unlock(s->db);
    return rv;
}

chat_err chati_sqlite_unschedule(void *impl, const char *id, const char *user)
{
    chati_sqlite_msgs *s = impl;
    if (bad_id(id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "an id");
    chati_db_lock(s->db);
    sqlite3_stmt *st;
    chat_err rv = prep(s, "DELETE FROM scheduled WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2)",
                       &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, id);
        bind_opt(st, 2, user);
        rv = step_done(s, st, "unscheduling a message");
    }
    if (rv == CHAT_OK && sqlite3_changes(s->db->db) == 0)
        rv = chati_fail(CHAT_ERR_NOT_FOUND, "no scheduled message %.30s", id);
    chati_db_unlock(s->db);
    return rv;
}

chat_err chati_sqlite_lease_scheduled(void *impl, int64_t now_ms, int64_t lease_ms, size_t max,
                                      chat_scheduled **out, size_t *n)
{
    chati_sqlite_msgs *s = impl;
    if (out == NULL || n == NULL || max == 0 || lease_ms <= 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a lease and a count");
    *out = NULL;
    *n = 0;
    chati_db_lock(s->db);
    sqlite3_stmt *st;
    chat_err rv = prep(s, "UPDATE scheduled SET lease_until = ?3 WHERE id IN (SELECT id FROM"
                          " scheduled WHERE post_at <= ?1 AND lease_until <= ?2"
                          " ORDER BY post_at LIMIT ?4) RETURNING " SCHED_COLS, &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_int64(st, 1, now_ms / 1000);
        sqlite3_bind_int64(st, 2, now_ms);
        sqlite3_bind_int64(st, 3, now_ms + lease_ms);
        sqlite3_bind_int64(st, 4, (int64_t)max);
        /* All of RETURNING is read: the update is done when it is. */
        rv = read_rows(s, st, max, out, n);
    }
    chati_db_unlock(s->db);
    return rv;
}
