/*
 * libchat/backends/postgres/channel_store.c - channels and memberships in
 * PostgreSQL ("postgresql://"), the same semantics as
 * backends/sqlite/channel_store.c.
 *
 * member_count lives in the channel row and changes in the same statement or
 * transaction as the memberships. Join order is max(joined) + position, taken
 * while the channel row is locked (FOR UPDATE), so concurrent adders on one
 * channel queue instead of clashing on the (channel_id, joined) key. Member
 * lists and activity updates go in one statement each (arrays + unnest).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/store.h>

#include "backends/builtin.h"
#include "backends/postgres/pg.h"

static const chati_pg_migration channel_migrations[] = {
    {1,
     "CREATE TABLE channels ("
     "  id               TEXT COLLATE \"C\" PRIMARY KEY,"
     "  team_id          TEXT NOT NULL,"
     "  name             TEXT NOT NULL,"
     "  type             INTEGER NOT NULL CHECK (type IN (1, 2, 4, 8)),"
     "  creator          TEXT NOT NULL DEFAULT '',"
     "  created          BIGINT NOT NULL DEFAULT 0,"
     "  topic            TEXT,"
     "  topic_creator    TEXT NOT NULL DEFAULT '',"
     "  topic_last_set   BIGINT NOT NULL DEFAULT 0,"
     "  purpose          TEXT,"
     "  purpose_creator  TEXT NOT NULL DEFAULT '',"
     "  purpose_last_set BIGINT NOT NULL DEFAULT 0,"
     "  is_archived      BOOLEAN NOT NULL DEFAULT false,"
     "  is_general       BOOLEAN NOT NULL DEFAULT false,"
     "  dm_key           TEXT,"
     "  last_activity    BIGINT NOT NULL DEFAULT 0,"
     "  member_count     BIGINT NOT NULL DEFAULT 0"
     ");"
     /* Names are unique among named channels only: DM names are generated
      * and DMs are unique by their member set instead. */
     "CREATE UNIQUE INDEX channels_name ON channels (team_id, name) WHERE type IN (1, 2);"
     "CREATE UNIQUE INDEX channels_dm_key ON channels (team_id, dm_key)"
     "  WHERE dm_key IS NOT NULL;"
     "CREATE INDEX channels_by_type ON channels (team_id, type, id);"
     "CREATE TABLE members ("
     "  channel_id TEXT COLLATE \"C\" NOT NULL REFERENCES channels (id) ON DELETE CASCADE,"
     "  user_id    TEXT COLLATE \"C\" NOT NULL,"
     "  joined     BIGINT NOT NULL," /* join order within the channel */
     "  PRIMARY KEY (channel_id, user_id)"
     ");"
     "CREATE INDEX members_by_user ON members (user_id, channel_id);"
     "CREATE UNIQUE INDEX members_by_join ON members (channel_id, joined);"},
    {2, "CREATE TABLE pins ("
        "  channel_id TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,"
        "  ts         TEXT NOT NULL,"
        "  user_id    TEXT NOT NULL,"
        "  created    BIGINT NOT NULL,"
        "  PRIMARY KEY (channel_id, ts)"
        ")"},
    {3, "CREATE TABLE bookmarks ("
        "  id         TEXT PRIMARY KEY,"
        "  channel_id TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,"
        "  title      TEXT NOT NULL,"
        "  link       TEXT NOT NULL,"
        "  emoji      TEXT,"
        "  updated_by TEXT NOT NULL,"
        "  created    BIGINT NOT NULL,"
        "  updated    BIGINT NOT NULL"
        ");"
        "CREATE INDEX bookmarks_by_channel ON bookmarks (channel_id, created, id)"},
};

#define CH_COLS_AFTER_ID                                                                   \
    " c.team_id, c.name, c.type, c.creator, c.created, c.topic, c.topic_creator,"          \
    " c.topic_last_set, c.purpose, c.purpose_creator, c.purpose_last_set, c.is_archived,"  \
    " c.is_general, c.dm_key, c.last_activity, c.member_count"
#define CH_COLS "c.id," CH_COLS_AFTER_ID

#define STMT(var, name, sql, n) static const chati_pg_stmt var = {name, sql, n}

STMT(st_by_id, "chan_by_id", "SELECT " CH_COLS " FROM channels c WHERE c.id = $1", 1);
STMT(st_by_name, "chan_by_name",
     "SELECT " CH_COLS " FROM channels c WHERE c.team_id = $1 AND c.name = $2"
     " AND c.type IN (1, 2)",
     2);
STMT(st_by_dm_key, "chan_by_dm_key",
     "SELECT " CH_COLS " FROM channels c WHERE c.team_id = $1 AND c.dm_key = $2", 2);
STMT(st_insert, "chan_insert",
     "INSERT INTO channels (id, team_id, name, type, creator, created, topic, topic_creator,"
     " topic_last_set, purpose, purpose_creator, purpose_last_set, is_archived, is_general,"
     " dm_key, last_activity, member_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
     " $11, $12, $13, $14, $15, $16, 0) ON CONFLICT DO NOTHING",
     16);
STMT(st_lock, "chan_lock", "SELECT 1 FROM channels WHERE id = $1 FOR UPDATE", 1);
/* The new members of a list (first position wins for a repeated id), then
 * the count, in one statement; the caller holds the channel row lock. */
STMT(st_add_members, "chan_add_members",
     "WITH ins AS ("
     " INSERT INTO members (channel_id, user_id, joined)"
     " SELECT $1, u.user_id,"
     "  (SELECT coalesce(max(joined), 0) FROM members WHERE channel_id = $1) + u.ord"
     " FROM (SELECT user_id, min(ord) AS ord"
     "  FROM unnest($2::text[]) WITH ORDINALITY AS t(user_id, ord) GROUP BY user_id) u"
     " ON CONFLICT (channel_id, user_id) DO NOTHING RETURNING 1)"
     " UPDATE channels SET member_count = member_count + (SELECT count(*) FROM ins)"
     " WHERE id = $1 RETURNING (SELECT count(*) FROM ins)",
     2);
STMT(st_remove_member, "chan_remove_member",
     "WITH d AS (DELETE FROM members WHERE channel_id = $1 AND user_id = $2 RETURNING 1)"
     " UPDATE channels SET member_count = member_count - (SELECT count(*) FROM d)"
     " WHERE id = $1 RETURNING (SELECT count(*) FROM d)",
     2);
STMT(st_update, "chan_update",
     "UPDATE channels SET name = $2, topic = $3, topic_creator = $4, topic_last_set = $5,"
     " purpose = $6, purpose_creator = $7, purpose_last_set = $8, is_archived = $9"
     " WHERE id = $1",
     9);
STMT(st_is_member, "chan_is_member",
     "SELECT EXISTS (SELECT 1 FROM members WHERE channel_id = $1 AND user_id = $2),"
     " EXISTS (SELECT 1 FROM channels WHERE id = $1)",
     2);
STMT(st_exists, "chan_exists", "SELECT 1 FROM channels WHERE id = $1", 1);
STMT(st_list_members, "chan_list_members",
     "SELECT user_id, joined FROM members WHERE channel_id = $1 AND joined > $2"
     " ORDER BY joined LIMIT $3",
     3);
/* Only ever raised, so events applied out of order or twice are harmless;
 * channels that no longer exist are skipped. */
STMT(st_touch, "chan_touch",
     "UPDATE channels c SET last_activity = v.ts"
     " FROM (SELECT id, max(ts) AS ts FROM unnest($1::text[], $2::bigint[]) AS t(id, ts)"
     "  GROUP BY id) v"
     " WHERE c.id = v.id AND c.last_activity < v.ts",
     2);
/* Two ordered walks merged by id: the team's public channels, and the
 * member's other conversations. $6 (the member) may be NULL. */
STMT(st_list, "chan_list",
     "SELECT " CH_COLS " FROM channels c"
     " WHERE c.team_id = $1 AND c.type = 1 AND ($3::int & 1) <> 0 AND c.id > $2"
     "  AND (NOT $4::boolean OR NOT c.is_archived)"
     " UNION ALL "
     "SELECT m.channel_id," CH_COLS_AFTER_ID " FROM members m JOIN channels c"
     " ON c.id = m.channel_id WHERE m.user_id = $6 AND m.channel_id > $2 AND c.team_id = $1"
     "  AND c.type <> 1 AND (c.type & $3::int) <> 0 AND (NOT $4::boolean OR NOT c.is_archived)"
     " ORDER BY 1 LIMIT $5",
     6);
STMT(st_list_for_member, "chan_list_for_member",
     "SELECT " CH_COLS " FROM members m JOIN channels c ON c.id = m.channel_id"
     " WHERE m.user_id = $1 AND m.channel_id > $2 AND (c.type & $3::int) <> 0"
     "  AND (NOT $4::boolean OR NOT c.is_archived)"
     " ORDER BY m.channel_id LIMIT $5",
     5);

static bool bad_id(const char *id)
{
    return id == NULL || id[0] == '\0' || strlen(id) >= CHAT_ID_SIZE;
}

static bool type_valid(int t)
{
    return t == CHAT_CHANNEL_PUBLIC || t == CHAT_CHANNEL_PRIVATE || t == CHAT_CHANNEL_IM ||
           t == CHAT_CHANNEL_MPIM;
}

static const char *empty_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
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

/* ---- open / close ---- */

static chat_err cs_open(const char *url, const chat_config *cfg, void **impl)
{
    CHATI_UNUSED(cfg);
    if (url == NULL || impl == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "postgres channel store: no URL");
    chati_pg *db = NULL;
    chat_err rv = chati_pg_open(url, "channel", channel_migrations,
                                CHATI_ARRAY_LEN(channel_migrations), &db);
    if (rv == CHAT_OK)
        *impl = db;
    return rv;
}

static void cs_close(void *impl)
{
    chati_pg_close(impl);
}

/* ---- reading rows ---- */

static chat_err read_channel(const PGresult *r, int row, chat_channel **out)
{
    chat_channel *c = chat_channel_new();
    if (c == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "channel");
    chati_pg_fixed(r, row, 0, c->id, sizeof c->id);
    chati_pg_fixed(r, row, 1, c->team_id, sizeof c->team_id);
    c->name = chati_pg_str(r, row, 2);
    c->type = (chat_channel_type)chati_pg_int(r, row, 3);
    chati_pg_fixed(r, row, 4, c->creator, sizeof c->creator);
    c->created = chati_pg_int(r, row, 5);
    c->topic = chati_pg_str(r, row, 6);
    chati_pg_fixed(r, row, 7, c->topic_creator, sizeof c->topic_creator);
    c->topic_last_set = chati_pg_int(r, row, 8);
    c->purpose = chati_pg_str(r, row, 9);
    chati_pg_fixed(r, row, 10, c->purpose_creator, sizeof c->purpose_creator);
    c->purpose_last_set = chati_pg_int(r, row, 11);
    c->is_archived = chati_pg_bool(r, row, 12);
    c->is_general = chati_pg_bool(r, row, 13);
    c->dm_key = chati_pg_str(r, row, 14);
    int64_t last = chati_pg_int(r, row, 15);
    if (last > 0)
        chati_ts_format(last, c->last_activity);
    c->member_count = chati_pg_int(r, row, 16);
    /* A NULL from a non-NULL column can only be a failed allocation. */
    if (c->name == NULL || (c->topic == NULL && !PQgetisnull(r, row, 6)) ||
        (c->purpose == NULL && !PQgetisnull(r, row, 9)) ||
        (c->dm_key == NULL && !PQgetisnull(r, row, 14))) {
        chat_channel_free(c);
        return chati_fail(CHAT_ERR_NOMEM, "channel");
    }
    *out = c;
    return CHAT_OK;
}

/* One channel by a statement with up to two parameters (inside a call). */
static chat_err channel_query(chati_pg_conn *conn, const chati_pg_stmt *st, const char *a,
                              const char *b, chat_channel **out)
{
    const char *p[2] = {a, b};
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, st, p, &r, "reading a channel");
    if (rv != CHAT_OK)
        return rv;
    if (PQntuples(r) == 0)
        rv = chati_fail(CHAT_ERR_CHANNEL_NOT_FOUND, "no channel %.80s", b != NULL ? b : a);
    else
        rv = read_channel(r, 0, out);
    PQclear(r);
    return rv;
}

typedef struct get_args {
    const chati_pg_stmt *st;
    const char *a, *b;
    chat_channel *out;
} get_args;

static chat_err get_fn(chati_pg_conn *conn, void *arg)
{
    get_args *g = arg;
    chat_channel *c = NULL;
    chat_err rv = channel_query(conn, g->st, g->a, g->b, &c);
    if (rv == CHAT_OK) {
        chat_channel_free(g->out);
        g->out = c;
    }
    return rv;
}

static chat_err get_one(chati_pg *db, const chati_pg_stmt *st, const char *a, const char *b,
                        chat_channel **out)
{
    if (out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out is NULL");
    get_args g = {st, a, b, NULL};
    chat_err rv = chati_pg_read(db, false, get_fn, &g);
    if (rv == CHAT_OK)
        *out = g.out;
    else
        chat_channel_free(g.out);
    return rv;
}

static chat_err cs_get(void *impl, const char *channel_id, chat_channel **out)
{
    if (bad_id(channel_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "channel id is required");
    return get_one(impl, &st_by_id, channel_id, NULL, out);
}

static chat_err cs_get_by_name(void *impl, const char *team_id, const char *name,
                               chat_channel **out)
{
    if (bad_id(team_id) || name == NULL || name[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "team and name are required");
    return get_one(impl, &st_by_name, team_id, name, out);
}

static chat_err cs_get_by_dm_key(void *impl, const char *team_id, const char *dm_key,
                                 chat_channel **out)
{
    if (bad_id(team_id) || dm_key == NULL || dm_key[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "team and dm key are required");
    return get_one(impl, &st_by_dm_key, team_id, dm_key, out);
}

/* ---- membership (inside a write) ---- */

/* Locks the channel row: membership changes of one channel queue here. */
static chat_err lock_channel(chati_pg_conn *conn, const char *channel_id)
{
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_lock, &channel_id, &r, "locking a channel");
    if (rv == CHAT_OK && PQntuples(r) == 0)
        rv = chati_fail(CHAT_ERR_CHANNEL_NOT_FOUND, "no channel %s", channel_id);
    PQclear(r);
    return rv;
}

static chat_err insert_members(chati_pg_conn *conn, const char *channel_id,
                               const char (*users)[CHAT_ID_SIZE], size_t n, size_t *added)
{
    *added = 0;
    if (n == 0)
        return CHAT_OK;
    char *arr = chati_pg_id_array(users, n);
    if (arr == NULL)
        return CHAT_ERR_NOMEM;
    const char *p[2] = {channel_id, arr};
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_add_members, p, &r, "adding members");
    chat_free(arr);
    if (rv == CHAT_OK && PQntuples(r) == 0)
        rv = chati_fail(CHAT_ERR_CHANNEL_NOT_FOUND, "no channel %s", channel_id);
    else if (rv == CHAT_OK)
        *added = (size_t)chati_pg_int(r, 0, 0);
    PQclear(r);
    return rv;
}

/* ---- create / update ---- */

static int64_t ts_us_or_zero(const char *ts)
{
    int64_t us = 0;
    if (ts == NULL || !chati_ts_parse(ts, &us))
        return 0;
    return us;
}

typedef struct create_args {
    const chat_channel *c;
    const char (*members)[CHAT_ID_SIZE];
    size_t n;
    chat_channel *existing;
} create_args;

/* After an insert that changed nothing, names what clashed. */
static chat_err classify_clash(chati_pg_conn *conn, create_args *a)
{
    const chat_channel *c = a->c;
    chat_channel *found = NULL;
    if (c->dm_key != NULL && c->dm_key[0] != '\0' &&
        channel_query(conn, &st_by_dm_key, c->team_id, c->dm_key, &found) == CHAT_OK) {
        chat_channel_free(a->existing);
        a->existing = found;
        return chati_fail(CHAT_ERR_DUPLICATE, "that conversation exists");
    }
    if ((c->type == CHAT_CHANNEL_PUBLIC || c->type == CHAT_CHANNEL_PRIVATE) &&
        channel_query(conn, &st_by_name, c->team_id, c->name, &found) == CHAT_OK) {
        chat_channel_free(found);
        return chati_fail(CHAT_ERR_NAME_TAKEN, "a channel named %s exists", c->name);
    }
    return chati_fail(CHAT_ERR_DUPLICATE, "channel %s exists", c->id);
}

static chat_err create_fn(chati_pg_conn *conn, void *arg)
{
    create_args *a = arg;
    const chat_channel *c = a->c;
    char type[24], created[24], tset[24], pset[24], last[24];
    const char *p[16] = {c->id,
                         c->team_id,
                         c->name != NULL ? c->name : "",
                         chati_pg_i64(type, (int64_t)c->type),
                         c->creator,
                         chati_pg_i64(created, c->created),
                         c->topic,
                         c->topic_creator,
                         chati_pg_i64(tset, c->topic_last_set),
                         c->purpose,
                         c->purpose_creator,
                         chati_pg_i64(pset, c->purpose_last_set),
                         chati_pg_bool_param(c->is_archived),
                         chati_pg_bool_param(c->is_general),
                         empty_null(c->dm_key),
                         chati_pg_i64(last, ts_us_or_zero(c->last_activity))};
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_insert, p, &r, "inserting a channel");
    if (rv != CHAT_OK)
        return rv;
    int64_t n = chati_pg_changes(r);
    PQclear(r);
    if (n == 0)
        return classify_clash(conn, a);
    size_t added;
    return insert_members(conn, c->id, a->members, a->n, &added);
}

static chat_err cs_create(void *impl, const chat_channel *c,
                          const char (*members)[CHAT_ID_SIZE], size_t n,
                          chat_channel **existing)
{
    if (c == NULL || bad_id(c->id) || bad_id(c->team_id) || !type_valid((int)c->type))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a channel needs an id, team and type");
    if ((c->type == CHAT_CHANNEL_PUBLIC || c->type == CHAT_CHANNEL_PRIVATE) &&
        (c->name == NULL || c->name[0] == '\0'))
        return chati_fail(CHAT_ERR_INVALID_NAME_REQUIRED, "a channel needs a name");
    chat_err rv = check_ids(members, n, "member");
    if (rv != CHAT_OK)
        return rv;
    create_args a = {c, members, n, NULL};
    rv = chati_pg_write(impl, create_fn, &a);
    if (a.existing != NULL) {
        if (existing != NULL && rv == CHAT_ERR_DUPLICATE)
            *existing = a.existing;
        else
            chat_channel_free(a.existing);
    }
    return rv;
}

static chat_err update_fn(chati_pg_conn *conn, void *arg)
{
    const chat_channel *c = arg;
    char tset[24], pset[24];
    const char *p[9] = {c->id,
                        c->name,
                        c->topic,
                        c->topic_creator,
                        chati_pg_i64(tset, c->topic_last_set),
                        c->purpose,
                        c->purpose_creator,
                        chati_pg_i64(pset, c->purpose_last_set),
                        chati_pg_bool_param(c->is_archived)};
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_update, p, &r, "updating a channel");
    /* The only unique key an update can break is the name. */
    if (rv == CHAT_ERR_DUPLICATE)
        return chati_fail(CHAT_ERR_NAME_TAKEN, "a channel named %s exists", c->name);
    if (rv == CHAT_OK && chati_pg_changes(r) == 0)
        rv = chati_fail(CHAT_ERR_CHANNEL_NOT_FOUND, "no channel %s", c->id);
    PQclear(r);
    return rv;
}

static chat_err cs_update(void *impl, const chat_channel *c)
{
    if (c == NULL || bad_id(c->id) || c->name == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "channel id and name are required");
    return chati_pg_write(impl, update_fn, (void *)c);
}

/* ---- listings ---- */

typedef struct list_args {
    const chati_pg_stmt *st;
    const char *p[6];
    int page;
    chat_list *out;
} list_args;

static chat_err list_fn(chati_pg_conn *conn, void *arg)
{
    list_args *a = arg;
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, a->st, a->p, &r, "listing channels");
    if (rv != CHAT_OK)
        return rv;
    chat_list *l = chat_list_new(CHAT_LIST_CHANNELS);
    if (l == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "list");
    int rows = PQntuples(r);
    for (int i = 0; rv == CHAT_OK && i < rows && i < a->page; i++) {
        chat_channel *c = NULL;
        rv = read_channel(r, i, &c);
        if (rv == CHAT_OK)
            rv = chat_list_push(l, c);
    }
    /* One row past the page tells whether another page exists. */
    if (rv == CHAT_OK && rows > a->page)
        rv = chati_page_cursor_out('c', chat_list_channel(l, (size_t)a->page - 1)->id, l);
    PQclear(r);
    if (rv != CHAT_OK) {
        chat_list_free(l);
        return rv;
    }
    chat_list_free(a->out);
    a->out = l;
    return CHAT_OK;
}

static chat_err run_listing(chati_pg *db, const chati_pg_stmt *st, const char *first,
                            unsigned types, bool exclude_archived, const char *member,
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
    char t[24], lim[24];
    list_args a = {st,
                   {first, after != NULL ? after : "",
                    chati_pg_i64(t, (int64_t)(types & CHAT_CHANNEL_ALL)),
                    chati_pg_bool_param(exclude_archived), chati_pg_i64(lim, page + 1), member},
                   page,
                   NULL};
    rv = chati_pg_read(db, false, list_fn, &a);
    chat_free(after);
    if (rv == CHAT_OK)
        *out = a.out;
    else
        chat_list_free(a.out);
    return rv;
}

static chat_err cs_list(void *impl, const char *team_id, unsigned types, bool exclude_archived,
                        const char *member_of, const char *cursor, int limit, chat_list **out)
{
    if (bad_id(team_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "team id is required");
    return run_listing(impl, &st_list, team_id, types, exclude_archived, empty_null(member_of),
                       cursor, limit, out);
}

static chat_err cs_list_for_member(void *impl, const char *user_id, unsigned types,
                                   bool exclude_archived, const char *cursor, int limit,
                                   chat_list **out)
{
    if (bad_id(user_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "user id is required");
    return run_listing(impl, &st_list_for_member, user_id, types, exclude_archived, NULL,
                       cursor, limit, out);
}

/* ---- members ---- */

typedef struct members_args {
    const char *channel_id;
    const char (*users)[CHAT_ID_SIZE];
    size_t n;
    size_t added;
} members_args;

static chat_err add_fn(chati_pg_conn *conn, void *arg)
{
    members_args *a = arg;
    chat_err rv = lock_channel(conn, a->channel_id);
    if (rv == CHAT_OK)
        rv = insert_members(conn, a->channel_id, a->users, a->n, &a->added);
    return rv;
}

static chat_err cs_add_members(void *impl, const char *channel_id,
                               const char (*users)[CHAT_ID_SIZE], size_t n, size_t *added)
{
    if (bad_id(channel_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "channel id is required");
    chat_err rv = check_ids(users, n, "user");
    if (rv != CHAT_OK)
        return rv;
    members_args a = {channel_id, users, n, 0};
    rv = chati_pg_write(impl, add_fn, &a);
    if (rv == CHAT_OK && added != NULL)
        *added = a.added;
    return rv;
}

typedef struct pair_args {
    const char *p[2];
    bool member;
} pair_args;

static chat_err remove_fn(chati_pg_conn *conn, void *arg)
{
    pair_args *a = arg;
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_remove_member, a->p, &r, "removing a member");
    if (rv != CHAT_OK)
        return rv;
    if (PQntuples(r) == 0)
        rv = chati_fail(CHAT_ERR_CHANNEL_NOT_FOUND, "no channel %s", a->p[0]);
    else if (chati_pg_int(r, 0, 0) == 0)
        rv = chati_fail(CHAT_ERR_NOT_IN_CHANNEL, "%s is not in %s", a->p[1], a->p[0]);
    PQclear(r);
    return rv;
}

static chat_err cs_remove_member(void *impl, const char *channel_id, const char *user_id)
{
    if (bad_id(channel_id) || bad_id(user_id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "channel and user are required");
    pair_args a = {{channel_id, user_id}, false};
    return chati_pg_write(impl, remove_fn, &a);
}

static chat_err is_member_fn(chati_pg_conn *conn, void *arg)
{
    pair_args *a = arg;
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_is_member, a->p, &r, "reading members");
    if (rv != CHAT_OK)
        return rv;
    if (chati_pg_bool(r, 0, 0))
        a->member = true;
    else if (!chati_pg_bool(r, 0, 1))
        rv = chati_fail(CHAT_ERR_CHANNEL_NOT_FOUND, "no channel %s", a->p[0]);
    else
        a->member = false;
    PQclear(r);
    return rv;
}

static chat_err cs_is_member(void *impl, const char *channel_id, const char *user_id,
                             bool *out)
{
    if (bad_id(channel_id) || bad_id(user_id) || out == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "channel and user are required");
    pair_args a = {{channel_id, user_id}, false};
    chat_err rv = chati_pg_read(impl, false, is_member_fn, &a);
    if (rv == CHAT_OK)
        *out = a.member;
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

typedef struct list_members_args {
    const char *p[3];
    int page;
    chat_list *out;
} list_members_args;

static chat_err list_members_fn(chati_pg_conn *conn, void *arg)
{
    list_members_args *a = arg;
    PGresult *r = NULL;
    /* Both statements in one snapshot (the caller asked for one). */
    chat_err rv = chati_pg_exec(conn, &st_exists, a->p, &r, "reading a channel");
    if (rv == CHAT_OK && PQntuples(r) == 0)
        rv = chati_fail(CHAT_ERR_CHANNEL_NOT_FOUND, "no channel %s", a->p[0]);
    PQclear(r);
    r = NULL;
    if (rv == CHAT_OK)
        rv = chati_pg_exec(conn, &st_list_members, a->p, &r, "listing members");
    if (rv != CHAT_OK)
        return rv;
    chat_list *l = chat_list_new(CHAT_LIST_STRINGS);
    if (l == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "list");
    int rows = PQntuples(r);
    for (int i = 0; rv == CHAT_OK && i < rows && i < a->page; i++)
        rv = chat_list_push_string(l, PQgetvalue(r, i, 0));
    if (rv == CHAT_OK && rows > a->page)
        rv = chati_page_cursor_out('m', PQgetvalue(r, a->page - 1, 1), l);
    PQclear(r);
    if (rv != CHAT_OK) {
        chat_list_free(l);
        return rv;
    }
    chat_list_free(a->out);
    a->out = l;
    return CHAT_OK;
}

static chat_err cs_list_members(void *impl, const char *channel_id, const char *cursor,
                                int limit, chat_list **out)
{
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
    char a1[24], lim[24];
    list_members_args a = {{channel_id, chati_pg_i64(a1, after), chati_pg_i64(lim, page + 1)},
                           page,
                           NULL};
    rv = chati_pg_read(impl, true, list_members_fn, &a);
    if (rv == CHAT_OK)
        *out = a.out;
    else
        chat_list_free(a.out);
    return rv;
}

typedef struct touch_args {
    const char *p[2];
} touch_args;

static chat_err touch_fn(chati_pg_conn *conn, void *arg)
{
    touch_args *a = arg;
    return chati_pg_exec(conn, &st_touch, a->p, NULL, "touching channels");
}

static chat_err cs_touch_activity(void *impl, const char (*channels)[CHAT_ID_SIZE],
                                  const char (*ts)[CHAT_TS_SIZE], size_t n)
{
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
    char *ids = NULL, *tss = NULL;
    if (rv == CHAT_OK && ((ids = chati_pg_id_array(channels, n)) == NULL ||
                          (tss = chati_pg_int_array(us, n)) == NULL))
        rv = CHAT_ERR_NOMEM;
    if (rv == CHAT_OK) {
        touch_args a = {{ids, tss}};
        rv = chati_pg_write(impl, touch_fn, &a);
    }
    chat_free(ids);
    chat_free(tss);
    chat_free(us);
    return rv;
}

/* ---- pins ---- */

/* The channel's row is locked first: pins of one channel are counted and
 * added one writer at a time. */
STMT(st_pin_lock, "pin_lock",
     "SELECT (SELECT count(*) FROM pins WHERE channel_id = $1) FROM channels"
     " WHERE id = $1 FOR UPDATE",
     1);
STMT(st_pin_add, "pin_add",
     "INSERT INTO pins (channel_id, ts, user_id, created) VALUES ($1, $2, $3, $4)", 4);
STMT(st_pin_remove, "pin_remove", "DELETE FROM pins WHERE channel_id = $1 AND ts = $2", 2);
STMT(st_pin_list, "pin_list",
     "SELECT ts, user_id, created FROM pins WHERE channel_id = $1"
     " ORDER BY created DESC, ts DESC",
     1);

typedef struct pin_args {
    const chat_pin *p;
    size_t max;
} pin_args;

static chat_err pin_add_fn(chati_pg_conn *conn, void *arg)
{
    pin_args *a = arg;
    PGresult *r = NULL;
    const char *id[1] = {a->p->channel};
    chat_err rv = chati_pg_exec(conn, &st_pin_lock, id, &r, "counting pins");
    if (rv != CHAT_OK)
        return rv;
    int64_t n = PQntuples(r) > 0 ? chati_pg_int(r, 0, 0) : -1;
    PQclear(r);
    if (n < 0)
        return chati_fail(CHAT_ERR_CHANNEL_NOT_FOUND, "no channel %.30s", a->p->channel);
    if ((size_t)n >= a->max)
        return chati_fail(CHAT_ERR_TOO_MANY_PINS, "%zu pins", a->max);
    char b[24];
    const char *p[4] = {a->p->channel, a->p->ts, a->p->user, chati_pg_i64(b, a->p->created)};
    return chati_pg_exec(conn, &st_pin_add, p, NULL, "pinning");
}

static chat_err cs_add_pin(void *impl, const chat_pin *p, size_t max)
{
    if (p == NULL || bad_id(p->channel) || bad_id(p->user) || p->ts[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a pin needs a channel, a ts and a user");
    pin_args a = {p, max};
    return chati_pg_write(impl, pin_add_fn, &a);
}

static chat_err pin_remove_fn(chati_pg_conn *conn, void *arg)
{
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_pin_remove, arg, &r, "unpinning");
    if (rv != CHAT_OK)
        return rv;
    int64_t n = chati_pg_changes(r);
    PQclear(r);
    return n > 0 ? CHAT_OK : chati_fail(CHAT_ERR_NOT_FOUND, "not pinned");
}

static chat_err cs_remove_pin(void *impl, const char *channel_id, const char *ts)
{
    if (bad_id(channel_id) || ts == NULL || *ts == '\0')
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a channel and a ts");
    const char *p[2] = {channel_id, ts};
    return chati_pg_write(impl, pin_remove_fn, (void *)p);
}

typedef struct pins_args {
    const char *channel;
    chat_pin *pins;
    size_t n;
} pins_args;

static chat_err pin_list_fn(chati_pg_conn *conn, void *arg)
{
    pins_args *a = arg;
    chat_free(a->pins); /* what an earlier attempt read */
    a->pins = NULL;
    a->n = 0;
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_pin_list, &a->channel, &r, "listing pins");
    if (rv != CHAT_OK)
        return rv;
    int rows = PQntuples(r);
    if (rows > 0 && (a->pins = chat_calloc((size_t)rows, sizeof *a->pins)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "pins");
    for (int i = 0; rv == CHAT_OK && i < rows; i++) {
        chat_pin *p = &a->pins[a->n++];
        chati_copy_fixed(p->channel, sizeof p->channel, a->channel);
        chati_pg_fixed(r, i, 0, p->ts, sizeof p->ts);
        chati_pg_fixed(r, i, 1, p->user, sizeof p->user);
        p->created = chati_pg_int(r, i, 2);
    }
    PQclear(r);
    return rv;
}

static chat_err cs_list_pins(void *impl, const char *channel_id, chat_pin **out, size_t *n)
{
    if (bad_id(channel_id) || out == NULL || n == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a channel");
    pins_args a = {channel_id, NULL, 0};
    chat_err rv = chati_pg_read(impl, false, pin_list_fn, &a);
    if (rv != CHAT_OK) {
        chat_free(a.pins);
        return rv;
    }
    *out = a.pins;
    *n = a.n;
    return CHAT_OK;
}

/* ---- bookmarks ---- */

STMT(st_bm_edit, "bm_edit",
     "UPDATE bookmarks SET title = $3, link = $4, emoji = $5, updated_by = $6, updated = $7"
     " WHERE id = $1 AND channel_id = $2",
     7);
STMT(st_bm_add, "bm_add",
     "INSERT INTO bookmarks (id, channel_id, title, link, emoji, updated_by, created, updated)"
     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
     8);
STMT(st_bm_remove, "bm_remove", "DELETE FROM bookmarks WHERE id = $1 AND channel_id = $2", 2);
STMT(st_bm_list, "bm_list",
     "SELECT id, title, link, emoji, updated_by, created, updated FROM bookmarks"
     " WHERE channel_id = $1 ORDER BY created, id",
     1);

typedef struct bm_args {
    const chat_bookmark *b;
    size_t max;
} bm_args;

static chat_err bm_put_fn(chati_pg_conn *conn, void *arg)
{
    bm_args *a = arg;
    const chat_bookmark *b = a->b;
    char cr[24], up[24];
    const char *p[8] = {b->id,         b->channel, b->title,         b->link,
                        b->emoji && *b->emoji ? b->emoji : NULL,
                        b->updated_by, chati_pg_i64(cr, b->created), chati_pg_i64(up, b->updated)};
    const char *ep[7] = {p[0], p[1], p[2], p[3], p[4], p[5], p[7]};
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_bm_edit, ep, &r, "editing a bookmark");
    if (rv != CHAT_OK)
        return rv;
    int64_t edited = chati_pg_changes(r);
    PQclear(r);
    if (edited > 0)
        return CHAT_OK;
    const char *id[1] = {b->channel};
    if ((rv = chati_pg_exec(conn, &st_pin_lock, id, NULL, "locking the channel")) != CHAT_OK)
        return rv;
    STMT(st_count, "bm_count", "SELECT count(*) FROM bookmarks WHERE channel_id = $1", 1);
    if ((rv = chati_pg_exec(conn, &st_count, id, &r, "counting bookmarks")) != CHAT_OK)
        return rv;
    int64_t n = PQntuples(r) > 0 ? chati_pg_int(r, 0, 0) : 0;
    PQclear(r);
    if ((size_t)n >= a->max)
        return chati_fail(CHAT_ERR_TOO_MANY_BOOKMARKS, "%zu bookmarks", a->max);
    rv = chati_pg_exec(conn, &st_bm_add, p, NULL, "adding a bookmark");
    return rv == CHAT_ERR_DUPLICATE ? chati_fail(CHAT_ERR_NOT_FOUND, "no bookmark here") : rv;
}

static chat_err cs_put_bookmark(void *impl, const chat_bookmark *b, size_t max)
{
    if (b == NULL || bad_id(b->id) || bad_id(b->channel) || bad_id(b->updated_by) ||
        b->title == NULL || b->link == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a bookmark needs ids, a title and a link");
    bm_args a = {b, max};
    return chati_pg_write(impl, bm_put_fn, &a);
}

static chat_err bm_remove_fn(chati_pg_conn *conn, void *arg)
{
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_bm_remove, arg, &r, "removing a bookmark");
    if (rv != CHAT_OK)
        return rv;
    int64_t n = chati_pg_changes(r);
    PQclear(r);
    return n > 0 ? CHAT_OK : chati_fail(CHAT_ERR_NOT_FOUND, "no bookmark here");
}

static chat_err cs_remove_bookmark(void *impl, const char *channel_id, const char *id)
{
    if (bad_id(channel_id) || bad_id(id))
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a channel and an id");
    const char *p[2] = {id, channel_id};
    return chati_pg_write(impl, bm_remove_fn, (void *)p);
}

typedef struct bms_args {
    const char *channel;
    chat_bookmark *bms;
    size_t n;
} bms_args;

static chat_err bm_list_fn(chati_pg_conn *conn, void *arg)
{
    bms_args *a = arg;
    chat_bookmarks_free(a->bms, a->n); /* what an earlier attempt read */
    a->bms = NULL;
    a->n = 0;
    PGresult *r = NULL;
    chat_err rv = chati_pg_exec(conn, &st_bm_list, &a->channel, &r, "listing bookmarks");
    if (rv != CHAT_OK)
        return rv;
    int rows = PQntuples(r);
    if (rows > 0 && (a->bms = chat_calloc((size_t)rows, sizeof *a->bms)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "bookmarks");
    for (int i = 0; rv == CHAT_OK && i < rows; i++) {
        chat_bookmark *b = &a->bms[a->n++];
        chati_copy_fixed(b->channel, sizeof b->channel, a->channel);
        chati_pg_fixed(r, i, 0, b->id, sizeof b->id);
        b->title = chati_pg_str(r, i, 1);
        b->link = chati_pg_str(r, i, 2);
        b->emoji = chati_pg_str(r, i, 3);
        chati_pg_fixed(r, i, 4, b->updated_by, sizeof b->updated_by);
        b->created = chati_pg_int(r, i, 5);
        b->updated = chati_pg_int(r, i, 6);
        if (b->title == NULL || b->link == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "bookmarks");
    }
    PQclear(r);
    return rv;
}

static chat_err cs_list_bookmarks(void *impl, const char *channel_id, chat_bookmark **out,
                                  size_t *n)
{
    if (bad_id(channel_id) || out == NULL || n == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "a channel");
    bms_args a = {channel_id, NULL, 0};
    chat_err rv = chati_pg_read(impl, false, bm_list_fn, &a);
    if (rv != CHAT_OK) {
        chat_bookmarks_free(a.bms, a.n);
        return rv;
    }
    *out = a.bms;
    *n = a.n;
    return CHAT_OK;
}

const chat_channel_store_ops chati_pg_channel_ops = {
    .version = CHAT_STORE_V6,
    .scheme = "postgresql",
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
