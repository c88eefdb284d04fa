/*
 * libchat/backends/sqlite/message_files.c - file metadata: one row per file
 * and one per channel it is shared in. A file is pending (sha256 '') until
 * its bytes are in, and file_list skips it until then.
 */
#include <string.h>

#include "backends/sqlite/message_store.h"

/* Shares a file in a channel (no-op when already shared or unknown). */
chat_err chati_sqlite_file_share(chati_sqlite_msgs *s, const char *file, const char *channel)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s,
                       "INSERT OR IGNORE INTO file_channels(file, channel, ord) "
                       "SELECT id, ?2, (SELECT coalesce(max(ord), 0) + 1 FROM file_channels "
                       "WHERE file = ?1) FROM files WHERE id = ?1",
                       &st);
    if (rv != CHAT_OK)
        return rv;
    bind_text(st, 1, file);
    bind_text(st, 2, channel);
    return step_done(s, st, "sharing file");
}

#define FILE_COLS \
    "rowid, id, team, user, name, title, mimetype, size, sha256, created, deleted"

static chat_err read_file(sqlite3_stmt *st, chat_file **out, int64_t *rowid)
{
    chat_file *f = chat_file_new();
    if (f == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "file store");
    *rowid = sqlite3_column_int64(st, 0);
    chati_db_col_fixed(st, 1, f->id, sizeof f->id);
    chati_db_col_fixed(st, 2, f->team_id, sizeof f->team_id);
    chati_db_col_fixed(st, 3, f->user, sizeof f->user);
    f->size = sqlite3_column_int64(st, 7);
    chati_db_col_fixed(st, 8, f->sha256, sizeof f->sha256);
    f->created = sqlite3_column_int64(st, 9);
    f->deleted = sqlite3_column_int(st, 10) != 0;
    chat_err rv = col_dup(st, 4, &f->name);
    if (rv == CHAT_OK)
        rv = col_dup(st, 5, &f->title);
    if (rv == CHAT_OK)
        rv = col_dup(st, 6, &f->mimetype);
    if (rv != CHAT_OK) {
        chat_file_free(f);
        return rv;
    }
    *out = f;
    return CHAT_OK;
}

/* Fills channels for a batch of files with one query. */
static chat_err files_channels(chati_sqlite_msgs *s, chat_file **files, size_t n)
{
    if (n == 0)
        return CHAT_OK;
    chati_buf ids = {0};
    sqlite3_stmt *st;
    chat_err rv = chati_buf_append(&ids, "[", 1);
    for (size_t i = 0; i < n && rv == CHAT_OK; i++)
        rv = chati_buf_printf(&ids, "%s\"%s\"", i ? "," : "", files[i]->id);
    if (rv == CHAT_OK)
        rv = chati_buf_append(&ids, "]", 1);
    if (rv != CHAT_OK) {
        chati_buf_free(&ids);
        return chati_fail(CHAT_ERR_NOMEM, "file store");
    }
    rv = prep(s,
              "SELECT file, channel FROM file_channels WHERE file IN "
              "(SELECT value FROM json_each(?1)) ORDER BY file, ord",
              &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_text(st, 1, ids.data, (int)ids.len, SQLITE_STATIC);
        int rc = SQLITE_DONE;
        while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *fid = (const char *)sqlite3_column_text(st, 0);
            const char *ch = (const char *)sqlite3_column_text(st, 1);
            for (size_t i = 0; i < n && fid != NULL && ch != NULL; i++) {
                chat_file *f = files[i];
                if (strcmp(f->id, fid) != 0)
                    continue;
                char(*chs)[CHAT_ID_SIZE] = grow(f->channels, f->n_channels, CHAT_ID_SIZE);
                if (chs == NULL) {
                    rv = chati_fail(CHAT_ERR_NOMEM, "file store");
                } else {
                    f->channels = chs;
                    chati_copy_fixed(chs[f->n_channels++], CHAT_ID_SIZE, ch);
                }
                break;
            }
        }
        if (rv == CHAT_OK && rc != SQLITE_DONE)
            rv = chati_db_err(s->db, rc, "reading file channels");
        sqlite3_reset(st);
    }
    chati_buf_free(&ids);
    return rv;
}

static chat_err file_insert_locked(chati_sqlite_msgs *s, const chat_file *f)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s,
                       "INSERT INTO files(id, team, user, name, title, mimetype, size, sha256, "
                       "created, deleted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                       &st);
    if (rv != CHAT_OK)
        return rv;
    bind_text(st, 1, f->id);
    bind_text(st, 2, f->team_id);
    bind_text(st, 3, f->user);
    bind_opt(st, 4, f->name);
    bind_opt(st, 5, f->title);
    bind_opt(st, 6, f->mimetype);
    sqlite3_bind_int64(st, 7, f->size);
    bind_text(st, 8, f->sha256);
    sqlite3_bind_int64(st, 9, f->created);
    sqlite3_bind_int(st, 10, f->deleted);
    if ((rv = step_done(s, st, "storing file")) != CHAT_OK)
        return rv == CHAT_ERR_DUPLICATE ? chati_fail(rv, "file %s exists", f->id) : rv;
    for (size_t i = 0; i < f->n_channels && rv == CHAT_OK; i++)
        rv = chati_sqlite_file_share(s, f->id, f->channels[i]);
    return rv;
}

chat_err chati_sqlite_file_insert(void *impl, const chat_file *f)
{
    chati_sqlite_msgs *s = impl;
    if (f == NULL || f->id[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_insert: no id");
    chat_err rv = chati_db_begin(s->db);
    if (rv != CHAT_OK)
        return rv;
    rv = file_insert_locked(s, f);
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}

chat_err chati_sqlite_file_get(void *impl, const char *file_id, chat_file **out)
{
    chati_sqlite_msgs *s = impl;
    sqlite3_stmt *st;
    chat_file *f = NULL;
    int64_t rowid;
    if (file_id == NULL || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_get: no id");
    chati_db_lock(s->db);
    chat_err rv = prep(s, "SELECT " FILE_COLS " FROM files WHERE id = ?1", &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, file_id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            rv = read_file(st, &f, &rowid);
        else if (rc == SQLITE_DONE)
            rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "no file %s", file_id);
        else
            rv = chati_db_err(s->db, rc, "reading file");
        sqlite3_reset(st);
    }
    if (rv == CHAT_OK)
        rv = files_channels(s, &f, 1);
    chati_db_unlock(s->db);
    if (rv == CHAT_OK)
        *out = f;
    else
        chat_file_free(f);
    return rv;
}

#define FILE_LIST_SQL(team)                                                               \
    "SELECT " FILE_COLS " FROM files f WHERE " team " AND deleted = 0 AND sha256 <> '' " \
    "AND (?2 IS NULL OR EXISTS (SELECT 1 FROM file_channels c "                         \
    "     WHERE c.file = f.id AND c.channel = ?2)) "                                     \
    "AND (?3 IS NULL OR user = ?3) "                                                     \
    "AND (user = ?4 OR EXISTS (SELECT 1 FROM file_channels c WHERE c.file = f.id "      \
    "     AND c.channel IN (SELECT value FROM json_each(?5)))) "                         \
    "AND (created < ?6 OR (created = ?6 AND rowid < ?7)) "                               \
    "ORDER BY created DESC, rowid DESC LIMIT ?8"

chat_err chati_sqlite_file_list(void *impl, const char *team_id, const char *channel,
                                const char *user, const char *visible_to,
                                const char (*channels)[CHAT_ID_SIZE], size_t n_channels,
                                const char *cursor, int limit, chat_list **out)
{
    chati_sqlite_msgs *s = impl;
    /* Without a cursor: from the newest. */
    int64_t after_created = INT64_MAX, after_rowid = INT64_MAX;
    bool has_cursor;
    chati_buf chans = {0};
    chat_file **files = NULL;
    size_t n = 0;
    bool more = false;
    sqlite3_stmt *st;
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_list: no output");
    chat_err rv = chati_page_limit(limit, &limit);
    if (rv == CHAT_OK)
        rv = chati_page_pair_cursor_in(cursor, 'f', &has_cursor, &after_created, &after_rowid);
    if (rv == CHAT_OK)
        rv = chati_sqlite_json_ids(channels, channels != NULL ? n_channels : 0, &chans);
    if (rv != CHAT_OK) {
        chati_buf_free(&chans);
        return rv;
    }
    if ((files = chat_calloc((size_t)limit + 1, sizeof *files)) == NULL) {
        chati_buf_free(&chans);
        return chati_fail(CHAT_ERR_NOMEM, "file store");
    }

    chati_db_lock(s->db);
    /* With a team (the usual case) files_team_created serves both the filter
     * and the order, so the scan stops after limit + 1 visible files. */
    bool any_team = team_id == NULL || team_id[0] == '\0';
    rv = prep(s,
              any_team ? FILE_LIST_SQL("1") : FILE_LIST_SQL("team = ?1"),
              &st);
    int64_t last_created = 0, last_rowid = 0;
    if (rv == CHAT_OK) {
        if (!any_team)
            bind_text(st, 1, team_id);
        bind_opt(st, 2, channel);
        bind_opt(st, 3, user);
        bind_opt(st, 4, visible_to);
        sqlite3_bind_text(st, 5, chans.data, (int)chans.len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, after_created);
        sqlite3_bind_int64(st, 7, after_rowid);
        sqlite3_bind_int(st, 8, limit + 1);
        int rc = SQLITE_DONE;
        while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (n == (size_t)limit) {
                more = true;
                break;
            }
            rv = read_file(st, &files[n], &last_rowid);
            if (rv == CHAT_OK)
                last_created = files[n++]->created;
        }
        if (rv == CHAT_OK && !more && rc != SQLITE_DONE)
            rv = chati_db_err(s->db, rc, "listing files");
        sqlite3_reset(st);
    }
    if (rv == CHAT_OK)
        rv = files_channels(s, files, n);
    chati_db_unlock(s->db);

    chat_list *l = NULL;
    if (rv == CHAT_OK && (l = chat_list_new(CHAT_LIST_FILES)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "file store");
    for (size_t i = 0; i < n; i++) {
        if (rv == CHAT_OK)
            rv = chat_list_push(l, files[i]);
        else
            chat_file_free(files[i]);
    }
    if (rv == CHAT_OK && more)
        rv = chati_page_pair_cursor_out('f', last_created, last_rowid, l);
    if (rv == CHAT_OK)
        *out = l;
    else
        chat_list_free(l);
    chat_free(files);
    chati_buf_free(&chans);
    return rv;
}

chat_err chati_sqlite_file_delete(void *impl, const char *file_id)
{
    chati_sqlite_msgs *s = impl;
    sqlite3_stmt *st;
    if (file_id == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_delete: no id");
    chat_err rv = chati_db_begin(s->db);
    if (rv != CHAT_OK)
        return rv;
    rv = prep(s, "SELECT deleted FROM files WHERE id = ?1", &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, file_id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "no file %s", file_id);
        else if (rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0)
            rv = chati_fail(CHAT_ERR_FILE_DELETED, "file %s is already deleted", file_id);
        else if (rc != SQLITE_ROW)
            rv = chati_db_err(s->db, rc, "deleting file");
        sqlite3_reset(st);
    }
    if (rv == CHAT_OK)
        rv = prep(s, "UPDATE files SET deleted = 1 WHERE id = ?1", &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, file_id);
        rv = step_done(s, st, "deleting file");
    }
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}

static bool is_sha256_hex(const char *h)
{
    size_t i = 0;
    for (; h[i]; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return false;
    return i == 64;
}

/* Inside a transaction: file_not_found or file_deleted unless the file is
 * there; *complete (may be NULL) says whether its bytes are in. */
static chat_err file_state(chati_sqlite_msgs *s, const char *file_id, const char *what,
                           bool *complete)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, "SELECT deleted, sha256 <> '' FROM files WHERE id = ?1", &st);
    if (rv != CHAT_OK)
        return rv;
    bind_text(st, 1, file_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        rv = chati_fail(CHAT_ERR_FILE_NOT_FOUND, "no file %s", file_id);
    else if (rc != SQLITE_ROW)
        rv = chati_db_err(s->db, rc, what);
    else if (sqlite3_column_int(st, 0) != 0)
        rv = chati_fail(CHAT_ERR_FILE_DELETED, "file %s was deleted", file_id);
    else if (complete)
        *complete = sqlite3_column_int(st, 1) != 0;
    sqlite3_reset(st);
    return rv;
}

/* A pending file has sha256 ''; the conditional UPDATE makes the first
 * completion win even when two race. */
chat_err chati_sqlite_file_complete(void *impl, const char *file_id, int64_t size,
                                    const char *sha256_hex)
{
    chati_sqlite_msgs *s = impl;
    sqlite3_stmt *st;
    if (file_id == NULL || sha256_hex == NULL || !is_sha256_hex(sha256_hex) || size < 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_complete: bad id, size or checksum");
    chat_err rv = chati_db_begin(s->db);
    if (rv != CHAT_OK)
        return rv;
    bool complete = false;
    rv = file_state(s, file_id, "completing file", &complete);
    if (rv == CHAT_OK && complete)
        rv = chati_fail(CHAT_ERR_DUPLICATE, "file %s is already complete", file_id);
    if (rv == CHAT_OK)
        rv = prep(s, "UPDATE files SET size = ?2, sha256 = ?3 WHERE id = ?1 AND sha256 = ''",
                  &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, file_id);
        sqlite3_bind_int64(st, 2, size);
        bind_text(st, 3, sha256_hex);
        rv = step_done(s, st, "completing file");
    }
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}

chat_err chati_sqlite_file_set_title(void *impl, const char *file_id, const char *title)
{
    chati_sqlite_msgs *s = impl;
    sqlite3_stmt *st;
    if (file_id == NULL || title == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "file_set_title: no id or title");
    chat_err rv = chati_db_begin(s->db);
    if (rv != CHAT_OK)
        return rv;
    rv = file_state(s, file_id, "renaming file", NULL);
    if (rv == CHAT_OK)
        rv = prep(s, "UPDATE files SET title = ?2 WHERE id = ?1", &st);
    if (rv == CHAT_OK) {
        bind_text(st, 1, file_id);
        bind_text(st, 2, title);
        rv = step_done(s, st, "renaming file");
    }
    if (rv == CHAT_OK)
        return chati_db_commit(s->db);
    chati_db_rollback(s->db);
    return rv;
}
