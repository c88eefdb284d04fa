/*
 * libchat/backends/sqlite/message_rows.c - reading message rows into pages,
 * with reactions and reply users from their side tables for a whole page at
 * once; the inline id lists (files, mentions).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "backends/sqlite/message_store.h"

enum {
    MC_ID, MC_CHANNEL, MC_TS, MC_USER, MC_TEAM, MC_TEXT, MC_SUBTYPE, MC_THREAD_TS,
    MC_CLIENT_MSG_ID, MC_EDITED_USER, MC_EDITED_TS, MC_REPLY_COUNT, MC_LATEST_REPLY,
    MC_FILES, MC_MENTIONS, MC_MENTION_FLAGS, MC_REPLY_BROADCAST, MC_N_REACTIONS, MC_BLOCKS,
    MC_ATTACHMENTS, MC_METADATA, MC_USERNAME, MC_ICON_EMOJI, MC_ICON_URL, MC_BOT_ID, MC_FLAGS
};

static void col_ts(sqlite3_stmt *st, int col, char out[CHAT_TS_SIZE])
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        out[0] = '\0';
    else
        chati_ts_format(sqlite3_column_int64(st, col), out);
}

/* Ids are [A-Z0-9]; a comma would corrupt the inline lists. */
chat_err chati_sqlite_ids_join(const char (*ids)[CHAT_ID_SIZE], size_t n, chati_buf *b)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i][0] == '\0' || strchr(ids[i], ',') != NULL)
            return chati_fail(CHAT_ERR_INVALID_ID, "invalid id \"%s\" in list", ids[i]);
        if ((i > 0 && chati_buf_append(b, ",", 1) != CHAT_OK) ||
            chati_buf_puts(b, ids[i]) != CHAT_OK)
            return chati_fail(CHAT_ERR_NOMEM, "message store");
    }
    return CHAT_OK;
}

static chat_err ids_split(const char *s, char (**out)[CHAT_ID_SIZE], size_t *n)
{
    *out = NULL;
    *n = 0;
    if (s == NULL || s[0] == '\0')
        return CHAT_OK;
    size_t count = 1;
    for (const char *p = s; *p; p++)
        count += *p == ',';
    char(*ids)[CHAT_ID_SIZE] = chat_calloc(count, CHAT_ID_SIZE);
    if (ids == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    size_t k = 0;
    for (const char *p = s; k < count; k++) {
        size_t len = strcspn(p, ",");
        if (len >= CHAT_ID_SIZE)
            len = 0; /* cannot have been written by us: drop rather than truncate */
        memcpy(ids[k], p, len);
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    *out = ids;
    *n = count;
    return CHAT_OK;
}

/* A JSON array of strings for `IN (SELECT value FROM json_each(?))`, which
 * lets one cached statement take a list of any length. */
chat_err chati_sqlite_json_ids(const char (*ids)[CHAT_ID_SIZE], size_t n, chati_buf *b)
{
    chat_err rv = chati_buf_append(b, "[", 1);
    for (size_t i = 0; i < n && rv == CHAT_OK; i++) {
        if (i > 0)
            rv = chati_buf_append(b, ",", 1);
        if (rv == CHAT_OK)
            rv = chati_buf_append(b, "\"", 1);
        const unsigned char *end = (const unsigned char *)ids[i] + CHAT_ID_SIZE;
        for (const unsigned char *p = (const unsigned char *)ids[i];
             p < end && *p && rv == CHAT_OK; p++) {
            if (*p == '"' || *p == '\\')
                rv = chati_buf_printf(b, "\\%c", *p);
            else if (*p < 0x20)
                rv = chati_buf_printf(b, "\\u%04x", *p);
            else
                rv = chati_buf_append(b, p, 1);
        }
        if (rv == CHAT_OK)
            rv = chati_buf_append(b, "\"", 1);
    }
    if (rv == CHAT_OK)
        rv = chati_buf_append(b, "]", 1);
    return rv == CHAT_OK ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "message store");
}

/* --------------------------------------------------- reading messages --- */

void chati_sqlite_page_free(chati_sqlite_page *p)
{
    for (size_t i = 0; i < p->n; i++)
        chat_message_free(p->e[i].m);
    chat_free(p->e);
    p->e = NULL;
    p->n = 0;
}

/* Builds a message from a row selected with CHATI_SQLITE_MSG_COLS. */
static chat_err read_message(sqlite3_stmt *st, chati_sqlite_msg *ent)
{
    chat_message *m = chat_message_new();
    if (m == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    ent->m = m;
    ent->id = sqlite3_column_int64(st, MC_ID);
    ent->ts = sqlite3_column_int64(st, MC_TS);
    ent->n_reactions = sqlite3_column_int64(st, MC_N_REACTIONS);
    chati_db_col_fixed(st, MC_CHANNEL, m->channel, sizeof m->channel);
    chati_ts_format(ent->ts, m->ts);
    chati_db_col_fixed(st, MC_USER, m->user, sizeof m->user);
    chati_db_col_fixed(st, MC_TEAM, m->team_id, sizeof m->team_id);
    chati_db_col_fixed(st, MC_EDITED_USER, m->edited_user, sizeof m->edited_user);
    col_ts(st, MC_EDITED_TS, m->edited_ts);
    col_ts(st, MC_LATEST_REPLY, m->latest_reply);
    m->reply_count = sqlite3_column_int64(st, MC_REPLY_COUNT);
    if (sqlite3_column_type(st, MC_THREAD_TS) != SQLITE_NULL)
        col_ts(st, MC_THREAD_TS, m->thread_ts);
    else if (m->reply_count > 0)
        memcpy(m->thread_ts, m->ts, sizeof m->ts);
    m->mention_flags = (unsigned)sqlite3_column_int(st, MC_MENTION_FLAGS);
    m->reply_broadcast = sqlite3_column_int(st, MC_REPLY_BROADCAST) != 0;
    m->flags = (unsigned)sqlite3_column_int(st, MC_FLAGS);
    chati_db_col_fixed(st, MC_BOT_ID, m->bot_id, sizeof m->bot_id);

    chat_err rv = col_dup(st, MC_TEXT, &m->text);
    if (rv == CHAT_OK)
        rv = col_dup(st, MC_SUBTYPE, &m->subtype);
    if (rv == CHAT_OK)
        rv = col_dup(st, MC_CLIENT_MSG_ID, &m->client_msg_id);
    /* Most messages have none of the rich parts: one type check each. */
    static const int rich_cols[] = {MC_BLOCKS,   MC_ATTACHMENTS,  MC_METADATA,
                                    MC_USERNAME, MC_ICON_EMOJI,   MC_ICON_URL};
    char **rich[] = {&m->blocks,   &m->attachments, &m->metadata,
                     &m->username, &m->icon_emoji,  &m->icon_url};
    for (size_t i = 0; rv == CHAT_OK && i < CHATI_ARRAY_LEN(rich_cols); i++)
        if (sqlite3_column_type(st, rich_cols[i]) != SQLITE_NULL)
            rv = col_dup(st, rich_cols[i], rich[i]);
    if (rv == CHAT_OK)
        rv = ids_split((const char *)sqlite3_column_text(st, MC_FILES), &m->files, &m->n_files);
    if (rv == CHAT_OK)
        rv = ids_split((const char *)sqlite3_column_text(st, MC_MENTIONS), &m->mentions,
                       &m->n_mentions);
    return rv;
}

/* Reads up to limit rows into p; *has_more tells whether one more existed
 * (the statement asks for limit + 1). */
chat_err chati_sqlite_page_read(chati_sqlite_msgs *s, sqlite3_stmt *st, int limit,
                                chati_sqlite_page *p, bool *has_more)
{
    int rc = SQLITE_DONE;
    chat_err rv = CHAT_OK;
    *has_more = false;
    while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (limit >= 0 && p->n == (size_t)limit) {
            *has_more = true;
            break;
        }
        chati_sqlite_msg *e = grow(p->e, p->n, sizeof *p->e);
        if (e == NULL) {
            rv = chati_fail(CHAT_ERR_NOMEM, "message store");
            break;
        }
        p->e = e;
        memset(&p->e[p->n], 0, sizeof p->e[p->n]);
        rv = read_message(st, &p->e[p->n]);
        p->n++; /* counted even on failure so chati_sqlite_page_free frees it */
    }
    if (rv == CHAT_OK && !*has_more && rc != SQLITE_DONE)
        rv = chati_db_err(s->db, rc, "reading messages");
    sqlite3_reset(st);
    return rv;
}

typedef struct id_idx {
    int64_t id;
    size_t idx;
} id_idx;

static int id_idx_cmp(const void *a, const void *b)
{
    int64_t x = ((const id_idx *)a)->id, y = ((const id_idx *)b)->id;
    return x < y ? -1 : x > y;
}

/* The page entry of a side-table row's msg id. Side rows come ordered by
 * msg, so the previous answer is tried first. */
static chati_sqlite_msg *page_find(chati_sqlite_page *p, const id_idx *map, size_t nmap, int64_t id,
                                   chati_sqlite_msg *last)
{
    if (last != NULL && last->id == id)
        return last;
    id_idx key = {id, 0};
    const id_idx *hit = bsearch(&key, map, nmap, sizeof *map, id_idx_cmp);
    return hit != NULL ? &p->e[hit->idx] : NULL;
}

static chat_err add_reactor(chat_message *m, const char *name, const char *user)
{
    chat_reaction *r = NULL;
    for (size_t i = 0; i < m->n_reactions; i++)
        if (strcmp(m->reactions[i].name, name) == 0) {
            r = &m->reactions[i];
            break;
        }
    if (r == NULL) {
        chat_reaction *rs = grow(m->reactions, m->n_reactions, sizeof *rs);
        if (rs == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "message store");
        m->reactions = rs;
        r = &rs[m->n_reactions];
        memset(r, 0, sizeof *r);
        if ((r->name = chat_strdup(name)) == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "message store");
        m->n_reactions++;
    }
    char(*users)[CHAT_ID_SIZE] = grow(r->users, r->n_users, CHAT_ID_SIZE);
    if (users == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    r->users = users;
    chati_copy_fixed(r->users[r->n_users++], CHAT_ID_SIZE, user);
    return CHAT_OK;
}

static chat_err add_reply_user(chat_message *m, const char *user)
{
    char(*users)[CHAT_ID_SIZE] = grow(m->reply_users, m->n_reply_users, CHAT_ID_SIZE);
    if (users == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    m->reply_users = users;
    chati_copy_fixed(m->reply_users[m->n_reply_users++], CHAT_ID_SIZE, user);
    return CHAT_OK;
}

/* Runs one side-table query (msg, a, b) for the messages of the page picked
 * by `want`, handing each row to its message. */
static chat_err page_side(chati_sqlite_msgs *s, chati_sqlite_page *p, const id_idx *map,
                          const char *sql, bool (*want)(const chati_sqlite_msg *), int kind)
{
    chati_buf ids = {0};
    chat_err rv = chati_buf_append(&ids, "[", 1);
    bool any = false;
    for (size_t i = 0; i < p->n && rv == CHAT_OK; i++) {
        if (!want(&p->e[i]))
            continue;
        rv = chati_buf_printf(&ids, "%s%" PRId64, any ? "," : "", p->e[i].id);
        any = true;
    }
    if (rv == CHAT_OK)
        rv = chati_buf_append(&ids, "]", 1);
    if (rv != CHAT_OK) {
        chati_buf_free(&ids);
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    }
    if (!any) {
        chati_buf_free(&ids);
        return CHAT_OK;
    }

    sqlite3_stmt *st;
    rv = prep(s, sql, &st);
    if (rv == CHAT_OK) {
        sqlite3_bind_text(st, 1, ids.data, (int)ids.len, SQLITE_STATIC);
        chati_sqlite_msg *last = NULL;
        int rc = SQLITE_DONE;
        while (rv == CHAT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            last = page_find(p, map, p->n, sqlite3_column_int64(st, 0), last);
            if (last == NULL)
                continue;
            const char *a = (const char *)sqlite3_column_text(st, 1);
            const char *b = (const char *)sqlite3_column_text(st, 2);
            if (kind == 'r')
                rv = add_reactor(last->m, a != NULL ? a : "", b != NULL ? b : "");
            else
                rv = add_reply_user(last->m, a != NULL ? a : "");
        }
        if (rv == CHAT_OK && rc != SQLITE_DONE)
            rv = chati_db_err(s->db, rc, "reading message details");
        sqlite3_reset(st);
    }
    chati_buf_free(&ids);
    return rv;
}

static bool has_reactions(const chati_sqlite_msg *e)
{
    return e->n_reactions > 0;
}

static bool has_replies(const chati_sqlite_msg *e)
{
    return e->m->reply_count > 0;
}

/* Fills reactions and reply_users for a whole page: at most two queries. */
chat_err chati_sqlite_page_attach(chati_sqlite_msgs *s, chati_sqlite_page *p)
{
    bool need = false;
    for (size_t i = 0; i < p->n && !need; i++)
        need = has_reactions(&p->e[i]) || has_replies(&p->e[i]);
    if (!need)
        return CHAT_OK;
    id_idx *map = chat_malloc(p->n * sizeof *map);
    if (map == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    for (size_t i = 0; i < p->n; i++)
        map[i] = (id_idx){p->e[i].id, i};
    qsort(map, p->n, sizeof *map, id_idx_cmp);
    chat_err rv = page_side(s, p, map,
                            "SELECT msg, name, user FROM reactions WHERE msg IN "
                            "(SELECT value FROM json_each(?1)) ORDER BY msg, seq",
                            has_reactions, 'r');
    if (rv == CHAT_OK)
        rv = page_side(s, p, map,
                       "SELECT msg, user, NULL FROM reply_users WHERE msg IN "
                       "(SELECT value FROM json_each(?1)) ORDER BY msg, first_ts",
                       has_replies, 'u');
    chat_free(map);
    return rv;
}

/* Moves the page's messages into a new list. */
chat_err chati_sqlite_page_to_list(chati_sqlite_page *p, chat_list **out)
{
    chat_list *l = chat_list_new(CHAT_LIST_MESSAGES);
    if (l == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "message store");
    chat_err rv = CHAT_OK;
    for (size_t i = 0; i < p->n; i++) {
        chat_message *m = p->e[i].m;
        p->e[i].m = NULL;
        if (rv == CHAT_OK)
            rv = chat_list_push(l, m); /* takes m even on failure */
        else
            chat_message_free(m);
    }
    if (rv != CHAT_OK) {
        chat_list_free(l);
        return rv;
    }
    *out = l;
    return CHAT_OK;
}

/* Loads one whole message by (channel, ts). message_not_found when absent. */
chat_err chati_sqlite_msg_load(chati_sqlite_msgs *s, const char *channel, int64_t ts,
                               chati_sqlite_msg *out)
{
    sqlite3_stmt *st;
    chati_sqlite_page p = {0};
    bool more;
    chat_err rv = prep(
        s, "SELECT " CHATI_SQLITE_MSG_COLS " FROM messages WHERE channel = ?1 AND ts = ?2", &st);
    if (rv != CHAT_OK)
        return rv;
    bind_text(st, 1, channel);
    sqlite3_bind_int64(st, 2, ts);
    rv = chati_sqlite_page_read(s, st, 1, &p, &more);
    if (rv == CHAT_OK && p.n == 0)
        rv = chati_fail(CHAT_ERR_MESSAGE_NOT_FOUND, "no message %" PRId64 " in %s", ts,
                        channel);
    if (rv == CHAT_OK)
        rv = chati_sqlite_page_attach(s, &p);
    if (rv == CHAT_OK) {
        *out = p.e[0];
        p.e[0].m = NULL;
    }
    chati_sqlite_page_free(&p);
    return rv;
}

/* Finds the row id and current text of a message (message_not_found). */
chat_err chati_sqlite_msg_find(chati_sqlite_msgs *s, const char *channel, int64_t ts, int64_t *id,
                               char **text)
{
    sqlite3_stmt *st;
    chat_err rv = prep(s, "SELECT id, text FROM messages WHERE channel = ?1 AND ts = ?2", &st);
    if (rv != CHAT_OK)
        return rv;
    bind_text(st, 1, channel);
    sqlite3_bind_int64(st, 2, ts);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        if (text != NULL)
            rv = col_dup(st, 1, text);
    } else if (rc == SQLITE_DONE) {
        rv = chati_fail(CHAT_ERR_MESSAGE_NOT_FOUND, "no message %" PRId64 " in %s", ts, channel);
    } else {
        rv = chati_db_err(s->db, rc, "finding message");
    }
    sqlite3_reset(st);
    return rv;
}
