/*
 * libchat/backends/sqlite/channel_store.c - channels and memberships in SQLite
 * ("sqlite:").
 *
 * member_count is kept in the channel row, changed in the same transaction as
 * the memberships, so listings never count members. Join order is a
 * per-channel sequence number. last_activity is integer microseconds (0 =
 * none). Absent channels give channel_not_found.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/store.h>

#include "backends/builtin.h"
#include "backends/sqlite/db.h"

static const chati_migration channel_migrations[] = {
    {1,
     "CREATE TABLE channels ("
     "  id               TEXT PRIMARY KEY,"
     "  team_id          TEXT NOT NULL,"
     "  name             TEXT NOT NULL,"
     "  type             INTEGER NOT NULL CHECK (type IN (1, 2, 4, 8)),"
     "  creator          TEXT NOT NULL DEFAULT '',"
     "  created          INTEGER NOT NULL DEFAULT 0,"
     "  topic            TEXT,"
     "  topic_creator    TEXT NOT NULL DEFAULT '',"
     "  topic_last_set   INTEGER NOT NULL DEFAULT 0,"
     "  purpose          TEXT,"
     "  purpose_creator  TEXT NOT NULL DEFAULT '',"
     "  purpose_last_set INTEGER NOT NULL DEFAULT 0,"
     "  is_archived      INTEGER NOT NULL DEFAULT 0,"
     "  is_general       INTEGER NOT NULL DEFAULT 0,"
     "  dm_key           TEXT,"
     "  last_activity    INTEGER NOT NULL DEFAULT 0,"
     "  member_count     INTEGER NOT NULL DEFAULT 0"
     ") WITHOUT ROWID;"
     /* Names are unique among named channels only: DM names are generated
      * and DMs are unique by their member set instead. */
     "CREATE UNIQUE INDEX channels_name ON channels (team_id, name) WHERE type IN (1, 2);"
     "CREATE UNIQUE INDEX channels_dm_key ON channels (team_id, dm_key)"
     "  WHERE dm_key IS NOT NULL;"
     /* Listing public channels walks one type in id order, skipping DMs. */
     "CREATE INDEX channels_by_type ON channels (team_id, type, id);"
     "CREATE TABLE members ("
     "  channel_id TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,"
     "  user_id    TEXT NOT NULL,"
     "  joined     INTEGER NOT NULL," /* join order within the channel */
     "  PRIMARY KEY (channel_id, user_id)"
     ") WITHOUT ROWID;"
     "CREATE INDEX members_by_user ON members (user_id, channel_id);"
     "CREATE UNIQUE INDEX members_by_join ON members (channel_id, joined);"},
    {2, "CREATE TABLE pins ("
        "  channel_id TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,"
        "  ts         TEXT NOT NULL,"
        "  user_id    TEXT NOT NULL,"
        "  created    INTEGER NOT NULL,"
        "  PRIMARY KEY (channel_id, ts)"
        ") WITHOUT ROWID;"},
    {3, "CREATE TABLE bookmarks ("
        "  id         TEXT PRIMARY KEY,"
        "  channel_id TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,"
        "  title      TEXT NOT NULL,"
        "  link       TEXT NOT NULL,"
        "  emoji      TEXT,"
        "  updated_by TEXT NOT NULL,"
        "  created    INTEGER NOT NULL,"
        "  updated    INTEGER NOT NULL"
        ") WITHOUT ROWID;"
        "CREATE INDEX bookmarks_by_channel ON bookmarks (channel_id, created, id);"},
};

#define CH_COLS_AFTER_ID                                                                   \
    " c.team_id, c.name, c.type, c.creator, c.created, c.topic, c.topic_creator,"     \
    " c.topic_last_set, c.purpose, c.purpose_creator, c.purpose_last_set, c.is_archived,"  \
    " c.is_general, c.dm_key, c.last_activity, c.member_count"
#define CH_COLS "c.id," CH_COLS_AFTER_ID

static bool bad_id(const char *id)
{
    return id == NULL || id[0] == '\0' || strlen(id) >= CHAT_ID_SIZE;
}

static bool type_valid(int t)
{
    return t == CHAT_CHANNEL_PUBLIC || t == CHAT_CHANNEL_PRIVATE || t == CHAT_CHANNEL_IM ||
           t == CHAT_CHANNEL_MPIM;
}

/* ---- open / close ---- */

static chat_err cs_open(const char *url, const chat_config *cfg, void **impl)
{
    if (url == NULL || impl == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "sqlite channel store: no URL");
    bool exclusive = false;
    if (chati_db_locking(cfg, &exclusive) != CHAT_OK)
        return CHAT_ERR_INVALID_CONFIG;
    chati_db *d = NULL;
    chat_err rv = chati_db_open(chati_url_rest(url), exclusive, channel_migrations,
                                CHATI_ARRAY_LEN(channel_migrations), &d);
    if (rv == CHAT_OK)
        rv = chati_db_require_table(d, "members");
    if (rv != CHAT_OK) {
        chati_db_close(d);
        return rv;
    }
    *impl = d;
    return CHAT_OK;
}

static void cs_close(void *impl)
{
    chati_db_close(impl);
}

/* ---- reading rows ---- */

static chat_err read_channel(sqlite3_stmt *st, chat_channel **out)
{
    chat_channel *c = chat_channel_new();
    if (c == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "channel");
    chati_db_col_fixed(st, 0, c->id, sizeof c->id);
    chati_db_col_fixed(st, 1, c->team_id, sizeof c->team_id);
    c->name = chati_db_col_str(st, 2);
    c->type = (chat_channel_type)sqlite3_column_int(st, 3);
    chati_db_col_fixed(st, 4, c->creator, sizeof c->creator);
    c->created = sqlite3_column_int64(st, 5);
    c->topic = chati_db_col_str(st, 6);
    chati_db_col_fixed(st, 7, c->topic_creator, sizeof c->topic_creator);
    c->topic_last_set = sqlite3_column_int64(st, 8);
    c->purpose = chati_db_col_str(st, 9);
    chati_db_col_fixed(st, 10, c->purpose_creator, sizeof c->purpose_creator);
    c->purpose_last_set = sqlite3_column_int64(st, 11);
    c->is_archived = sqlite3_column_int(st, 12) != 0;
    c->is_general = sqlite3_column_int(st, 13) != 0;
    c->dm_key = chati_db_col_str(st, 14);
    int64_t last = sqlite3_column_int64(st, 15);
    if (last > 0)
        chati_ts_format(last, c->last_activity);
    c->member_count = sqlite3_column_int64(st, 16);
    /* A NULL from a non-NULL column can only be a failed allocation. */
    if (c->name == NULL || (c->topic == NULL && sqlite3_column_type(st, 6) != SQLITE_NULL) ||
        (c->purpose == NULL && sqlite3_column_type(st, 9) != SQLITE_NULL) ||
        (c->dm_key == NULL && sqlite3_column_type(st, 14) != SQLITE_NULL)) {
        chat_channel_free(c);
        return chati_fail(CHAT_ERR_NOMEM, "channel");
    }
    *out = c;
    return CHAT_OK;
}

/* One channel by a query with up to two text parameters (lock held). */
static chat_err channel_query(chati_db *d, const char *sql, const char *a, const char *b,
                              chat_channel **out)
{
    sqlite3_stmt *st = chati_db_stmt(d, sql);
    if (st == NULL)
        return CHAT_ERR_STORAGE;
    chati_db_bind_str(st, 1, a, false);
    if (b != NULL)
        chati_db_bind_str(st, 2, b, false);
    int rc = sqlite3_step(st);
    chat_err rv;
    if (rc == SQLITE_ROW)
        rv = read_channel(st, out);
    else if (rc == SQLITE_DONE)
        rv = chati_fail(CHAT_ERR_CHANNEL_NOT_FOUND, "no channel %.80s", b != NULL ? b : a);
    else
        rv = chati_db_err(d, rc, "reading a channel");
    sqlite3_reset(st);
    return rv;
}

static const char sql_by_id[] = "SELECT " CH_COLS " FROM channels c WHERE c.id = ?1";
static const char sql_by_name[] = "SELECT " CH_COLS " FROM channels c"
                                  " WHERE c.team_id = ?1 AND c.name = ?2 AND c.type IN (1, 2)";
static const char sql_by_dm_key[] = "SELECT " CH_COLS " FROM channels c"
                                    " WHERE c.team_id = ?1 AND c.dm_key = ?2";

static chat_err locked_query(chati_db *d, const char *sql, const char *a, const char *b,
                             chat_channel **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is NULL");
    chati_db_lock(d);
    chat_err rv = channel_query(d, sql, a, b, out);
    chati_db_unlock(d);
    return rv;
}

static chat_err cs_get(void *impl, const char *channel_id, chat_channel **out)
{
    if (bad_id(channel_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "channel id is required");
    return locked_query(impl, sql_by_id, channel_id, NULL, out);
}

static chat_err cs_get_by_name(void *impl, const char *team_id, const char *name,
                               chat_channel **out)
{
    if (bad_id(team_id) || name == NULL || name[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "team and name are required");
    return locked_query(impl, sql_by_name, team_id, name, out);
}

static chat_err cs_get_by_dm_key(void *impl, const char *team_id, const char *dm_key,
                                 chat_channel **out)
{
    if (bad_id(team_id) || dm_key == NULL || dm_key[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "team and dm key are required");
    return locked_query(impl, sql_by_dm_key, team_id, dm_key, out);
}

/* ---- membership (inside a transaction) ---- */

static chat_err channel_exists(chati_db *d, const char *channel_id)
{
    sqlite3_stmt *st = chati_db_stmt(d, "SELECT 1 FROM channels WHERE id = ?1");
    if (st == NULL)
        return CHAT_ERR_STORAGE;
    chati_db_bind_str(st, 1, channel_id, false);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return CHAT_OK;
    if (rc == SQLITE_DONE)
        return chati_fail(CHAT_ERR_CHANNEL_NOT_FOUND, "no channel %s", channel_id);
    return chati_db_err(d, rc, "reading a channel");
}

static chat_err check_ids(const char (*ids)[CHAT_ID_SIZE], size_t n, const char *what)
{
    if (n > 0 && ids == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "%s missing", what);
    for (size_t i = 0; i < n; i++)
        if (memchr(ids[i], '\0', CHAT_ID_SIZE) == NULL || ids[i][0] == '\0')
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "%s %zu is not an id", what, i);
    return CHAT_OK;
}

static chat_err insert_members(chati_db *d, const char *channel_id,
                               const char (*users)[CHAT_ID_SIZE], size_t n, size_t *added)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = chati_db_stmt(
            d, "INSERT INTO members (channel_id, user_id, joined) VALUES (?1, ?2,"
               " (SELECT coalesce(max(joined), 0) + 1 FROM members WHERE channel_id = ?1))"
               " ON CONFLICT (channel_id, user_id) DO NOTHING");
        if (st == NULL)
            return CHAT_ERR_STORAGE;
        chati_db_bind_str(st, 1, channel_id, false);
        chati_db_bind_str(st, 2, users[i], false);
        chat_err rv = chati_db_step_done(d, st, "adding a member");
        if (rv != CHAT_OK)
            return rv;
        count += (size_t)sqlite3_changes(d->db);
    }
    if (count > 0) {
        sqlite3_stmt *st = chati_db_stmt(d, "UPDATE channels SET member_count ="
                                            " member_count + ?2 WHERE id = ?1");
        if (st == NULL)
            return CHAT_ERR_STORAGE;
        chati_db_bind_str(st, 1, channel_id, false);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)count);
        chat_err rv = chati_db_step_done(d, st, "counting members");
        if (rv != CHAT_OK)
            return rv;
    }
    if (added != NULL)
        *added = count;
    return CHAT_OK;
}

/* ---- create / update ---- */

static int64_t ts_us_or_zero(const char *ts)
{
    int64_t us = 0;
    if (ts == NULL || !chati_ts_parse(ts, &us))
        return 0;
    return us;
}

static chat_err insert_channel(chati_db *d, const chat_channel *c)
{
    sqlite3_stmt *st = chati_db_stmt(
        d, "INSERT INTO channels (id, team_id, name, type, creator, created, topic,"
           " topic_creator, topic_last_set, purpose, purpose_creator, purpose_last_set,"
           " is_archived, is_general, dm_key, last_activity, member_count) VALUES (?1, ?2,"
           " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, 0)");
    if (st == NULL)
        return CHAT_ERR_STORAGE;
    chati_db_bind_str(st, 1, c->id, false);
    chati_db_bind_str(st, 2, c->team_id, false);
    chati_db_bind_str(st, 3, c->name != NULL ? c->name : "", false);
    sqlite3_bind_int(st, 4, (int)c->type);
    chati_db_bind_str(st, 5, c->creator, false);
    sqlite3_bind_int64(st, 6, c->created);
    chati_db_bind_str(st, 7, c->topic, false);
    chati_db_bind_str(st, 8, c->topic_creator, false);
    sqlite3_bind_int64(st, 9, c->topic_last_set);
    chati_db_bind_str(st, 10, c->purpose, false);
    chati_db_bind_str(st, 11, c->purpose_creator, false);
    sqlite3_bind_int64(st, 12, c->purpose_last_set);
    sqlite3_bind_int(st, 13, c->is_archived);
    sqlite3_bind_int(st, 14, c->is_general);
    chati_db_bind_str(st, 15, c->dm_key, true);
    sqlite3_bind_int64(st, 16, ts_us_or_zero(c->last_activity));
    return chati_db_step_done(d, st, "inserting a channel");
}

/* After a failed insert, names what clashed (transaction still open). */
static chat_err classify_channel_clash(chati_db *d, const chat_channel *c,
                                       chat_channel **existing)
{
    chat_channel *found = NULL;
    if (c->dm_key != NULL && c->dm_key[0] != '\0' &&
        channel_query(d, sql_by_dm_key, c->team_id, c->dm_key, &found) == CHAT_OK) {
        if (existing != NULL)
            *existing = found;
        else
            chat_channel_free(found);
        return chati_fail(CHAT_ERR_DUPLICATE, "that conversation exists");
    }
    if ((c->type == CHAT_CHANNEL_PUBLIC || c->type == CHAT_CHANNEL_PRIVATE) &&
        channel_query(d, sql_by_name, c->team_id, c->name, &found) == CHAT_OK) {
        chat_channel_free(found);
        return chati_fail(CHAT_ERR_NAME_TAKEN, "a channel named %s exists", c->name);
    }
    return chati_fail(CHAT_ERR_DUPLICATE, "channel %s exists", c->id);
}

static chat_err cs_create(void *impl, const chat_channel *c,
                          const char (*members)[CHAT_ID_SIZE], size_t n,
                          chat_channel **existing)
{
    chati_db *d = impl;
    if (c == NULL || bad_id(c->id) || bad_id(c->team_id) || !type_valid((int)c->type))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a channel needs an id, team and type");
    if ((c->type == CHAT_CHANNEL_PUBLIC || c->type == CHAT_CHANNEL_PRIVATE) &&
        (c->name == NULL || c->name[0] == '\0'))
        return chati_fail(CHAT_ERR_INVALID_NAME_REQUIRED, "a channel needs a name");
    chat_err rv = check_ids(members, n, "member");
    if (rv == CHAT_OK)
        rv = chati_db_begin(d);
    if (rv != CHAT_OK)
        return rv;

    rv = insert_channel(d, c);
    chat_channel *found = NULL;
    if (rv == CHAT_ERR_DUPLICATE)
        rv = classify_channel_clash(d, c, &found);
    if (rv == CHAT_OK)
        rv = insert_members(d, c->id, members, n, NULL);
    if (rv == CHAT_OK)
        rv = chati_db_commit(d);
    else
        chati_db_rollback(d);
    if (found != NULL) {
        if (existing != NULL)
            *existing = found;
        else
            chat_channel_free(found);
    }
    return rv;
}

static chat_err cs_update(void *impl, const chat_channel *c)
{
    chati_db *d = impl;
    if (c == NULL || bad_id(c->id) || c->name == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "channel id and name are required");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(
        d, "UPDATE channels SET name = ?2, topic = ?3, topic_creator = ?4,"
           " topic_last_set = ?5, purpose = ?6, purpose_creator = ?7, purpose_last_set = ?8,"
           " is_archived = ?9 WHERE id = ?1");
    if (st != NULL) {
        chati_db_bind_str(st, 1, c->id, false);
        chati_db_bind_str(st, 2, c->name, false);
        chati_db_bind_str(st, 3, c->topic, false);
        chati_db_bind_str(st, 4, c->topic_creator, false);
        sqlite3_bind_int64(st, 5, c->topic_last_set);
        chati_db_bind_str(st, 6, c->purpose, false);
        chati_db_bind_str(st, 7, c->purpose_creator, false);
        sqlite3_bind_int64(st, 8, c->purpose_last_set);
        sqlite3_bind_int(st, 9, c->is_archived);
        rv = chati_db_step_done(d, st, "updating a channel");
        /* The only unique key an update can break is the name. */
        if (rv == CHAT_ERR_DUPLICATE)
            rv = chati_fail(CHAT_ERR_NAME_TAKEN, "a channel named %s exists", c->name);
        else if (rv == CHAT_OK && sqlite3_changes(d->db) == 0)
            rv = chati_fail(CHAT_ERR_CHANNEL_NOT_FOUND, "no channel %s", c->id);
    }
    chati_db_unlock(d);
    return rv;
}

/* ---- listings ---- */

/* Fills a page of channels from st (bound by the caller, LIMIT page + 1). */
static chat_err fill_channels(chati_db *d, sqlite3_stmt *st, int page, chat_list *l)
{
    int rc;
    int n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == page)
            return chati_page_cursor_out('c', chat_list_channel(l, (size_t)n - 1)->id, l);
        chat_channel *c = NULL;
        chat_err rv = read_channel(st, &c);
        if (rv == CHAT_OK)
            rv = chat_list_push(l, c);
        if (rv != CHAT_OK)
            return rv;
        n++;
    }
    return rc == SQLITE_DONE ? CHAT_OK : chati_db_err(d, rc, "listing channels");
}

typedef struct list_args {
    const char *a;              /* ?1 */
    const char *after;          /* ?2: "" for the first page */
    unsigned types;             /* ?3 */
    bool exclude_archived;      /* ?4 */
    const char *member;         /* ?5, may be NULL */
} list_args;

static chat_err run_listing(chati_db *d, const char *sql, const list_args *a,
                            const char *cursor, int limit, chat_list **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is NULL");
    int page;
    char *after = NULL;
    chat_err rv = chati_page_limit(limit, &page);
    if (rv == CHAT_OK)
        rv = chati_page_cursor_in(cursor, 'c', &after);
    if (rv != CHAT_OK)
        return rv;
    chat_list *l = chat_list_new(CHAT_LIST_CHANNELS);
    if (l == NULL) {
        chat_free(after);
        return chati_fail(CHAT_ERR_NOMEM, "list");
    }
    chati_db_lock(d);
    rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, sql);
    if (st != NULL) {
        chati_db_bind_str(st, 1, a->a, false);
        chati_db_bind_str(st, 2, after != NULL ? after : "", false);
        sqlite3_bind_int(st, 3, (int)(a->types & CHAT_CHANNEL_ALL));
        sqlite3_bind_int(st, 4, a->exclude_archived);
        chati_db_bind_str(st, 5, a->member, true);
        sqlite3_bind_int(st, 6, page + 1);
        rv = fill_channels(d, st, page, l);
    }
    chati_db_unlock(d);
    chat_free(after);
    if (rv != CHAT_OK) {
        chat_list_free(l);
        return rv;
    }
    *out = l;
    return CHAT_OK;
}

static chat_err cs_list(void *impl, const char *team_id, unsigned types, bool exclude_archived,
                        const char *member_of, const char *cursor, int limit, chat_list **out)
{
    if (bad_id(team_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "team id is required");
    /* Two ordered walks merged by id: the team's public channels, and the
     * member's other conversations; neither scans what it cannot show. */
    static const char sql[] =
        "SELECT " CH_COLS " FROM channels c"
        " WHERE c.team_id = ?1 AND c.type = 1 AND (?3 & 1) != 0 AND c.id > ?2"
        "  AND (?4 = 0 OR c.is_archived = 0)"
        " UNION ALL "
        /* m.channel_id (= c.id) is what members_by_user is ordered by, so
         * the merge needs no sort. */
        "SELECT m.channel_id," CH_COLS_AFTER_ID " FROM members m JOIN channels c"
        " ON c.id = m.channel_id WHERE m.user_id = ?5 AND m.channel_id > ?2 AND c.team_id = ?1 AND c.type != 1"
        "  AND (c.type & ?3) != 0 AND (?4 = 0 OR c.is_archived = 0)"
        " ORDER BY 1 LIMIT ?6";
    list_args a = {team_id, NULL, types, exclude_archived,
                   member_of != NULL && member_of[0] != '\0' ? member_of : NULL};
    return run_listing(impl, sql, &a, cursor, limit, out);
}

static chat_err cs_list_for_member(void *impl, const char *user_id, unsigned types,
                                   bool exclude_archived, const char *cursor, int limit,
                                   chat_list **out)
{
    if (bad_id(user_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    static const char sql[] =
        "SELECT " CH_COLS " FROM members m JOIN channels c ON c.id = m.channel_id"
        " WHERE m.user_id = ?1 AND m.channel_id > ?2 AND (c.type & ?3) != 0"
        "  AND (?4 = 0 OR c.is_archived = 0)"
        " ORDER BY m.channel_id LIMIT ?6"; /* ?5 unused: run_listing binds it */
    list_args a = {user_id, NULL, types, exclude_archived, NULL};
    return run_listing(impl, sql, &a, cursor, limit, out);
}

/* ---- members ---- */

static chat_err cs_add_members(void *impl, const char *channel_id,
                               const char (*users)[CHAT_ID_SIZE], size_t n, size_t *added)
{
    chati_db *d = impl;
    if (bad_id(channel_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "channel id is required");
    chat_err rv = check_ids(users, n, "user");
    if (rv == CHAT_OK)
        rv = chati_db_begin(d);
    if (rv != CHAT_OK)
        return rv;
    size_t count = 0;
    rv = channel_exists(d, channel_id);
    if (rv == CHAT_OK)
        rv = insert_members(d, channel_id, users, n, &count);
    if (rv == CHAT_OK)
        rv = chati_db_commit(d);
    else
        chati_db_rollback(d);
    if (rv == CHAT_OK && added != NULL)
        *added = count;
    return rv;
}

static chat_err cs_remove_member(void *impl, const char *channel_id, const char *user_id)
{
    chati_db *d = impl;
    if (bad_id(channel_id) || bad_id(user_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "channel and user are required");
    chat_err rv = chati_db_begin(d);
    if (rv != CHAT_OK)
        return rv;
    rv = channel_exists(d, channel_id);
    sqlite3_stmt *st = NULL;
    if (rv == CHAT_OK) {
        st = chati_db_stmt(d, "DELETE FROM members WHERE channel_id = ?1 AND user_id = ?2");
        rv = st != NULL ? CHAT_OK : CHAT_ERR_STORAGE;
    }
    if (rv == CHAT_OK) {
        chati_db_bind_str(st, 1, channel_id, false);
        chati_db_bind_str(st, 2, user_id, false);
        rv = chati_db_step_done(d, st, "removing a member");
        if (rv == CHAT_OK && sqlite3_changes(d->db) == 0)
            rv = chati_fail(CHAT_ERR_NOT_IN_CHANNEL, "%s is not in %s", user_id, channel_id);
    }
    if (rv == CHAT_OK) {
        st = chati_db_stmt(d, "UPDATE channels SET member_count = member_count - 1"
                              " WHERE id = ?1");
        rv = st != NULL ? CHAT_OK : CHAT_ERR_STORAGE;
        if (rv == CHAT_OK) {
            chati_db_bind_str(st, 1, channel_id, false);
            rv = chati_db_step_done(d, st, "counting members");
        }
    }
    if (rv == CHAT_OK)
        rv = chati_db_commit(d);
    else
        chati_db_rollback(d);
    return rv;
}

static chat_err cs_is_member(void *impl, const char *channel_id, const char *user_id,
                             bool *out)
{
    chati_db *d = impl;
    if (bad_id(channel_id) || bad_id(user_id) || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "channel and user are required");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st =
        chati_db_stmt(d, "SELECT 1 FROM members WHERE channel_id = ?1 AND user_id = ?2");
    if (st != NULL) {
        chati_db_bind_str(st, 1, channel_id, false);
        chati_db_bind_str(st, 2, user_id, false);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_ROW) {
            *out = true;
            rv = CHAT_OK;
        } else if (rc == SQLITE_DONE) {
            /* Only the negative answer pays for telling "no" from "no channel". */
            rv = channel_exists(d, channel_id);
            if (rv == CHAT_OK)
                *out = false;
        } else {
            rv = chati_db_err(d, rc, "reading members");
        }
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err parse_seq(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0)
        return chati_fail(CHAT_ERR_INVALID_CURSOR, "malformed members cursor");
    *out = v;
    return CHAT_OK;
}

static chat_err fill_members(chati_db *d, sqlite3_stmt *st, int page, chat_list *l)
{
    int rc;
    int n = 0;
    int64_t last = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == page) {
            char key[24];
            snprintf(key, sizeof key, "%lld", (long long)last);
            return chati_page_cursor_out('m', key, l);
        }
        const char *uid = (const char *)sqlite3_column_text(st, 0);
        chat_err rv = chat_list_push_string(l, uid != NULL ? uid : "");
        if (rv != CHAT_OK)
            return rv;
        last = sqlite3_column_int64(st, 1);
        n++;
    }
    return rc == SQLITE_DONE ? CHAT_OK : chati_db_err(d, rc, "listing members");
}

static chat_err cs_list_members(void *impl, const char *channel_id, const char *cursor,
                                int limit, chat_list **out)
{
    chati_db *d = impl;
    if (bad_id(channel_id) || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "channel id is required");
    int page;
    int64_t after = 0;
    char *key = NULL;
    chat_err rv = chati_page_limit(limit, &page);
    if (rv == CHAT_OK)
        rv = chati_page_cursor_in(cursor, 'm', &key);
    if (rv == CHAT_OK && key != NULL)
        rv = parse_seq(key, &after);
    chat_free(key);
    if (rv != CHAT_OK)
        return rv;
    chat_list *l = chat_list_new(CHAT_LIST_STRINGS);
    if (l == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "list");

    chati_db_lock(d);
    rv = channel_exists(d, channel_id);
    if (rv == CHAT_OK) {
        sqlite3_stmt *st = chati_db_stmt(d, "SELECT user_id, joined FROM members"
                                            " WHERE channel_id = ?1 AND joined > ?2"
                                            " ORDER BY joined LIMIT ?3");
        rv = CHAT_ERR_STORAGE;
        if (st != NULL) {
            chati_db_bind_str(st, 1, channel_id, false);
            sqlite3_bind_int64(st, 2, after);
            sqlite3_bind_int(st, 3, page + 1);
            rv = fill_members(d, st, page, l);
        }
    }
    chati_db_unlock(d);
    if (rv != CHAT_OK) {
        chat_list_free(l);
        return rv;
    }
    *out = l;
    return CHAT_OK;
}

static chat_err cs_touch_activity(void *impl, const char (*channels)[CHAT_ID_SIZE],
                                  const char (*ts)[CHAT_TS_SIZE], size_t n)
{
    chati_db *d = impl;
    if (n == 0)
        return CHAT_OK;
    chat_err rv = check_ids(channels, n, "channel");
    if (rv != CHAT_OK)
        return rv;
    if (ts == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "timestamps missing");
    int64_t *us = chat_malloc(n * sizeof *us);
    if (us == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "touch_activity");
    for (size_t i = 0; rv == CHAT_OK && i < n; i++)
        if (memchr(ts[i], '\0', CHAT_TS_SIZE) == NULL || !chati_ts_parse(ts[i], &us[i]))
            rv = chati_fail(CHAT_ERR_INVALID_TS, "activity ts %zu is not a timestamp", i);
    if (rv == CHAT_OK)
        rv = chati_db_begin(d);
    if (rv != CHAT_OK) {
        chat_free(us);
        return rv;
    }
    /* Only ever raised, so events applied out of order or twice are harmless;
     * channels that no longer exist are skipped. */
    for (size_t i = 0; rv == CHAT_OK && i < n; i++) {
        sqlite3_stmt *st = chati_db_stmt(d, "UPDATE channels SET last_activity = ?2"
                                            " WHERE id = ?1 AND last_activity < ?2");
        if (st == NULL) {
            rv = CHAT_ERR_STORAGE;
            break;
        }
        chati_db_bind_str(st, 1, channels[i], false);
        sqlite3_bind_int64(st, 2, us[i]);
        rv = chati_db_step_done(d, st, "touching a channel");
    }
    if (rv == CHAT_OK)
        rv = chati_db_commit(d);
    else
        chati_db_rollback(d);
    chat_free(us);
    return rv;
}

/* ---------------------------------------------------------------- pins --- */

static chat_err cs_add_pin(void *impl, const chat_pin *p, size_t max)
{
    chati_db *d = impl;
    if (p == NULL || bad_id(p->channel) || bad_id(p->user) || p->ts[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a pin needs a channel, a ts and a user");
    chat_err rv = chati_db_begin(d);
    if (rv != CHAT_OK)
        return rv;
    sqlite3_stmt *st = chati_db_stmt(d, "SELECT count(*) FROM pins WHERE channel_id = ?1");
    rv = CHAT_ERR_STORAGE;
    if (st != NULL) {
        chati_db_bind_str(st, 1, p->channel, false);
        int rc = sqlite3_step(st);
        int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_reset(st);
        rv = n < 0                 ? chati_db_err(d, rc, "counting pins")
             : (size_t)n >= max    ? chati_fail(CHAT_ERR_TOO_MANY_PINS, "%zu pins", max)
                                   : CHAT_OK;
    }
    st = rv == CHAT_OK ? chati_db_stmt(d, "INSERT INTO pins (channel_id, ts, user_id, created)"
                                          " VALUES (?1, ?2, ?3, ?4)")
                       : NULL;
    if (rv == CHAT_OK && st == NULL)
        rv = CHAT_ERR_STORAGE;
    if (rv == CHAT_OK) {
        chati_db_bind_str(st, 1, p->channel, false);
        chati_db_bind_str(st, 2, p->ts, false);
        chati_db_bind_str(st, 3, p->user, false);
        sqlite3_bind_int64(st, 4, p->created);
        rv = chati_db_step_done(d, st, "pinning");
    }
    if (rv != CHAT_OK) {
        chati_db_rollback(d);
        return rv;
    }
    return chati_db_commit(d);
}

static chat_err cs_remove_pin(void *impl, const char *channel_id, const char *ts)
{
    chati_db *d = impl;
    if (bad_id(channel_id) || ts == NULL || *ts == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a channel and a ts");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "DELETE FROM pins WHERE channel_id = ?1 AND ts = ?2");
    if (st != NULL) {
        chati_db_bind_str(st, 1, channel_id, false);
        chati_db_bind_str(st, 2, ts, false);
        rv = chati_db_step_done(d, st, "unpinning");
        if (rv == CHAT_OK && sqlite3_changes(d->db) == 0)
            rv = chati_fail(CHAT_ERR_NOT_FOUND, "%.30s is not pinned", ts);
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err cs_list_pins(void *impl, const char *channel_id, chat_pin **out, size_t *n)
{
    chati_db *d = impl;
    if (bad_id(channel_id) || out == NULL || n == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a channel");
    *out = NULL;
    *n = 0;
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "SELECT ts, user_id, created FROM pins"
                                        " WHERE channel_id = ?1 ORDER BY created DESC, ts DESC");
    size_t cap = 0;
    if (st != NULL) {
        chati_db_bind_str(st, 1, channel_id, false);
        int rc;
        rv = CHAT_OK;
        while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                chat_pin *grown = chat_realloc(*out, cap * sizeof *grown);
                if (grown == NULL) {
                    rv = chati_fail(CHAT_ERR_NOMEM, "pins");
                    break;
                }
                *out = grown;
            }
            chat_pin *p = &(*out)[(*n)++];
            memset(p, 0, sizeof *p);
            chati_copy_fixed(p->channel, sizeof p->channel, channel_id);
            chati_db_col_fixed(st, 0, p->ts, sizeof p->ts);
            chati_db_col_fixed(st, 1, p->user, sizeof p->user);
            p->created = sqlite3_column_int64(st, 2);
        }
        if (rv == CHAT_OK && rc != SQLITE_DONE)
            rv = chati_db_err(d, rc, "listing pins");
        sqlite3_reset(st);
    }
    chati_db_unlock(d);
    if (rv != CHAT_OK) {
        chat_free(*out);
        *out = NULL;
        *n = 0;
    }
    return rv;
}

/* ----------------------------------------------------------- bookmarks --- */

static chat_err cs_put_bookmark(void *impl, const chat_bookmark *b, size_t max)
{
    chati_db *d = impl;
    if (b == NULL || bad_id(b->id) || bad_id(b->channel) || bad_id(b->updated_by) ||
        b->title == NULL || b->link == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a bookmark needs ids, a title and a link");
    chat_err rv = chati_db_begin(d);
    if (rv != CHAT_OK)
        return rv;
    /* An edit: the row of that id, in that channel. */
    sqlite3_stmt *st = chati_db_stmt(d, "UPDATE bookmarks SET title = ?3, link = ?4, emoji = ?5,"
                                        " updated_by = ?6, updated = ?7"
                                        " WHERE id = ?1 AND channel_id = ?2");
    rv = CHAT_ERR_STORAGE;
    if (st != NULL) {
        chati_db_bind_str(st, 1, b->id, false);
        chati_db_bind_str(st, 2, b->channel, false);
        chati_db_bind_str(st, 3, b->title, false);
        chati_db_bind_str(st, 4, b->link, false);
        chati_db_bind_str(st, 5, b->emoji, true);
        chati_db_bind_str(st, 6, b->updated_by, false);
        sqlite3_bind_int64(st, 7, b->updated);
        rv = chati_db_step_done(d, st, "editing a bookmark");
    }
    bool edited = rv == CHAT_OK && sqlite3_changes(d->db) > 0;
    if (rv == CHAT_OK && !edited) {
        st = chati_db_stmt(d, "SELECT count(*) FROM bookmarks WHERE channel_id = ?1");
        rv = CHAT_ERR_STORAGE;
        if (st != NULL) {
            chati_db_bind_str(st, 1, b->channel, false);
            int rc = sqlite3_step(st);
            int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
            sqlite3_reset(st);
            rv = n < 0 ? chati_db_err(d, rc, "counting bookmarks")
                 : (size_t)n >= max ? chati_fail(CHAT_ERR_TOO_MANY_BOOKMARKS, "%zu bookmarks", max)
                                    : CHAT_OK;
        }
    }
    if (rv == CHAT_OK && !edited) {
        st = chati_db_stmt(d, "INSERT INTO bookmarks (id, channel_id, title, link, emoji,"
                              " updated_by, created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
                              " ?7, ?8)");
        rv = CHAT_ERR_STORAGE;
        if (st != NULL) {
            chati_db_bind_str(st, 1, b->id, false);
            chati_db_bind_str(st, 2, b->channel, false);
            chati_db_bind_str(st, 3, b->title, false);
            chati_db_bind_str(st, 4, b->link, false);
            chati_db_bind_str(st, 5, b->emoji, true);
            chati_db_bind_str(st, 6, b->updated_by, false);
            sqlite3_bind_int64(st, 7, b->created);
            sqlite3_bind_int64(st, 8, b->updated);
            rv = chati_db_step_done(d, st, "adding a bookmark");
            if (rv == CHAT_ERR_DUPLICATE) /* the id is another channel's */
                rv = chati_fail(CHAT_ERR_NOT_FOUND, "no bookmark %.30s here", b->id);
        }
    }
    if (rv != CHAT_OK) {
        chati_db_rollback(d);
        return rv;
    }
    return chati_db_commit(d);
}

static chat_err cs_remove_bookmark(void *impl, const char *channel_id, const char *id)
{
    chati_db *d = impl;
    if (bad_id(channel_id) || bad_id(id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a channel and an id");
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "DELETE FROM bookmarks WHERE id = ?1 AND channel_id = ?2");
    if (st != NULL) {
        chati_db_bind_str(st, 1, id, false);
        chati_db_bind_str(st, 2, channel_id, false);
        rv = chati_db_step_done(d, st, "removing a bookmark");
        if (rv == CHAT_OK && sqlite3_changes(d->db) == 0)
            rv = chati_fail(CHAT_ERR_NOT_FOUND, "no bookmark %.30s here", id);
    }
    chati_db_unlock(d);
    return rv;
}

static chat_err cs_list_bookmarks(void *impl, const char *channel_id, chat_bookmark **out,
                                  size_t *n)
{
    chati_db *d = impl;
    if (bad_id(channel_id) || out == NULL || n == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a channel");
    *out = NULL;
    *n = 0;
    chati_db_lock(d);
    chat_err rv = CHAT_ERR_STORAGE;
    sqlite3_stmt *st = chati_db_stmt(d, "SELECT id, title, link, emoji, updated_by, created,"
                                        " updated FROM bookmarks WHERE channel_id = ?1"
                                        " ORDER BY created, id");
    size_t cap = 0;
    if (st != NULL) {
        chati_db_bind_str(st, 1, channel_id, false);
        int rc;
        rv = CHAT_OK;
        while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 8;
                chat_bookmark *grown = chat_realloc(*out, cap * sizeof *grown);
                if (grown == NULL) {
                    rv = chati_fail(CHAT_ERR_NOMEM, "bookmarks");
                    break;
                }
                *out = grown;
            }
            chat_bookmark *b = &(*out)[(*n)++];
            memset(b, 0, sizeof *b);
            chati_copy_fixed(b->channel, sizeof b->channel, channel_id);
            chati_db_col_fixed(st, 0, b->id, sizeof b->id);
            b->title = chati_db_col_str(st, 1);
            b->link = chati_db_col_str(st, 2);
            if (sqlite3_column_type(st, 3) != SQLITE_NULL)
                b->emoji = chati_db_col_str(st, 3);
            chati_db_col_fixed(st, 4, b->updated_by, sizeof b->updated_by);
            b->created = sqlite3_column_int64(st, 5);
            b->updated = sqlite3_column_int64(st, 6);
            if (b->title == NULL || b->link == NULL)
                rv = chati_fail(CHAT_ERR_NOMEM, "bookmarks");
        }
        if (rv == CHAT_OK && rc != SQLITE_DONE)
            rv = chati_db_err(d, rc, "listing bookmarks");
        sqlite3_reset(st);
    }
    chati_db_unlock(d);
    if (rv != CHAT_OK) {
        chat_bookmarks_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rv;
}

const chat_channel_store_ops chati_sqlite_channel_ops = {
    .version = CHAT_STORE_V6,
    .scheme = "sqlite",
    .open = cs_open,
    .close = cs_close,
    .create = cs_create,
    .get = cs_get,
    .get_by_name = cs_get_by_name,
    .get_by_dm_key = cs_get_by_dm_key,
    .update = cs_update,
    .list = cs_list,
    .list_for_member = cs_list_for_member,
    .add_members = cs_add_members,
    .remove_member = cs_remove_member,
    .is_member = cs_is_member,
    .list_members = cs_list_members,
    .touch_activity = cs_touch_activity,
    .add_pin = cs_add_pin,
    .remove_pin = cs_remove_pin,
    .list_pins = cs_list_pins,
    .put_bookmark = cs_put_bookmark,
    .remove_bookmark = cs_remove_bookmark,
    .list_bookmarks = cs_list_bookmarks,
};
