/*
 * Contract tests for chat_user_store_ops: every user store backend must pass.
 *
 * argv[1] is the store URL; "{tmp}" in it becomes a fresh directory per test
 * ("sqlite:{tmp}/user.db"). Every test works in its own fresh workspace,
 * channel and user ids, so a backend on a shared database passes too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/store.h>

#include "core/internal.h"
#include "contract.h"
#include "testutil.h"

static const chat_user_store_ops *ops;
static void *impl;

static void setup(void)
{
    const char *url = contract_begin("user");
    ops = chati_backend_find(CHATI_IFACE_USER, url);
    ck_assert_msg(ops != NULL, "no user store for %s", url);
    ck_assert_uint_eq(ops->version, CHAT_STORE_V6); /* with user groups */
    ck_assert_chat_ok(ops->open(url, contract_cfg(), &impl));
}

static void teardown(void)
{
    ops->close(impl);
    contract_end();
}

/* ---- helpers ---- */

static void new_id(char prefix, char out[CHAT_ID_SIZE])
{
    ck_assert_chat_ok(chati_id_new(prefix, out));
}

/* A fresh workspace; its id goes to id. */
static void make_team(char id[CHAT_ID_SIZE])
{
    chat_team t;
    memset(&t, 0, sizeof t);
    new_id('T', t.id);
    char domain[48];
    snprintf(domain, sizeof domain, "d-%s", t.id);
    t.name = "Test Team";
    t.domain = domain;
    t.created = 1732600000;
    ck_assert_chat_ok(ops->create_team(impl, &t));
    memcpy(id, t.id, CHAT_ID_SIZE);
}

typedef struct test_user {
    chat_user u;
    char email[80];
    char name[48];
} test_user;

/* A user of team with a fresh id, name "n-<id>" and email "<id>@example.com". */
static void init_user(test_user *tu, const char *team)
{
    memset(tu, 0, sizeof *tu);
    new_id('U', tu->u.id);
    memcpy(tu->u.team_id, team, strlen(team) + 1);
    snprintf(tu->email, sizeof tu->email, "%s@example.com", tu->u.id);
    snprintf(tu->name, sizeof tu->name, "n-%s", tu->u.id);
    tu->u.email = tu->email;
    tu->u.name = tu->name;
    tu->u.created = tu->u.updated = 1732600000;
}

static void add_user(const char *team, char id[CHAT_ID_SIZE])
{
    test_user tu;
    init_user(&tu, team);
    ck_assert_chat_ok(ops->create_user(impl, &tu.u));
    if (id != NULL)
        memcpy(id, tu.u.id, CHAT_ID_SIZE);
}

static void fmt_ts(int64_t sec, int us, char out[CHAT_TS_SIZE])
{
    chati_ts_format(sec * 1000000 + us, out);
}

/* An activity record with its own storage. */
typedef struct act {
    chat_activity a;
    char event_id[48];
    char ts[CHAT_TS_SIZE];
    char mentions[4][CHAT_ID_SIZE];
} act;

static void set_act(act *x, chat_activity_kind kind, const char *channel, int64_t sec,
                    const char *author, unsigned flags, const char *mention)
{
    static unsigned long seq;
    memset(x, 0, sizeof *x);
    char rnd[CHAT_ID_SIZE];
    new_id('E', rnd);
    snprintf(x->event_id, sizeof x->event_id, "ev-%s-%lu", rnd, ++seq);
    fmt_ts(sec, 100, x->ts);
    x->a.event_id = x->event_id;
    x->a.kind = kind;
    x->a.channel = channel;
    x->a.ts = x->ts;
    x->a.author = author;
    x->a.mention_flags = flags;
    if (mention != NULL) {
        memcpy(x->mentions[0], mention, strlen(mention) + 1);
        x->a.n_mentions = 1;
        x->a.mentions = (const char (*)[CHAT_ID_SIZE])x->mentions;
    }
}

static void apply1(const act *x)
{
    ck_assert_chat_ok(ops->apply_activity(impl, &x->a, 1));
}

static void expect_counts(const char *user, const char *channel, int64_t unread,
                          int64_t mentions)
{
    int64_t u = -1, m = -1;
    ck_assert_chat_ok(ops->counts(impl, user, channel, &u, &m));
    ck_assert_msg(u == unread && m == mentions, "counts(%s, %s) = %lld/%lld, want %lld/%lld",
                  user, channel, (long long)u, (long long)m, (long long)unread,
                  (long long)mentions);
}

/* ---- teams ---- */

/* User groups: written whole, replaced by id, by name; a name and a handle
 * once per team. */
static chat_usergroup make_group(const char *id, const char *team, const char *name,
                                 const char *handle)
{
    chat_usergroup g;
    memset(&g, 0, sizeof g);
    strcpy(g.id, id);
    strcpy(g.team_id, team);
    g.name = (char *)name;
    g.handle = (char *)handle;
    g.users = (char *)"U1,U2";
    g.channels = (char *)"";
    strcpy(g.created_by, "U1");
    strcpy(g.updated_by, "U1");
    g.created = g.updated = 1700000000;
    return g;
}

START_TEST(usergroups)
{
    ck_assert_ptr_nonnull(ops->put_usergroup); /* both backends in the tree keep them */
    char team[CHAT_ID_SIZE], other[CHAT_ID_SIZE], s1[CHAT_ID_SIZE], s2[CHAT_ID_SIZE];
    new_id('T', team);
    new_id('T', other);
    new_id('S', s1);
    new_id('S', s2);
    chat_usergroup g = make_group(s1, team, "Oncall", "oncall");
    g.description = (char *)"who is up tonight";
    ck_assert_chat_ok(ops->put_usergroup(impl, &g));
    chat_usergroup h = make_group(s2, team, "Design", "design");
    ck_assert_chat_ok(ops->put_usergroup(impl, &h));
    chat_usergroup clash = make_group("SCLASH1", team, "Oncall", "other");
    ck_assert_chat_err(ops->put_usergroup(impl, &clash), CHAT_ERR_DUPLICATE);
    clash = make_group("SCLASH2", team, "Other", "design");
    ck_assert_chat_err(ops->put_usergroup(impl, &clash), CHAT_ERR_DUPLICATE);
    clash = make_group("SCLASH3", other, "Oncall", "oncall"); /* another team's own */
    ck_assert_chat_ok(ops->put_usergroup(impl, &clash));
    /* replaced by id; created stays */
    g.users = (char *)"U3";
    g.updated = 1700000100;
    g.disabled = 1700000100;
    g.created = 1;
    strcpy(g.updated_by, "U3");
    ck_assert_chat_ok(ops->put_usergroup(impl, &g));

    chat_usergroup *got = NULL;
    size_t n = 0;
    ck_assert_chat_ok(ops->list_usergroups(impl, team, &got, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(got[0].name, "Design"); /* by name */
    ck_assert_ptr_null(got[0].description);
    ck_assert_str_eq(got[1].id, s1);
    ck_assert_str_eq(got[1].handle, "oncall");
    ck_assert_str_eq(got[1].description, "who is up tonight");
    ck_assert_str_eq(got[1].users, "U3");
    ck_assert_str_eq(got[1].channels, "");
    ck_assert_str_eq(got[1].created_by, "U1");
    ck_assert_str_eq(got[1].updated_by, "U3");
    ck_assert_int_eq(got[1].created, 1700000000);
    ck_assert_int_eq(got[1].updated, 1700000100);
    ck_assert_int_eq(got[1].disabled, 1700000100);
    chat_usergroups_free(got, n);
}
END_TEST

START_TEST(teams)
{
    chat_team t;
    memset(&t, 0, sizeof t);
    new_id('T', t.id);
    char domain[48];
    snprintf(domain, sizeof domain, "acme-%s", t.id);
    t.name = "Acme";
    t.domain = domain;
    t.created = 1732600001;
    ck_assert_chat_ok(ops->create_team(impl, &t));

    chat_team *got = NULL;
    ck_assert_chat_ok(ops->get_team(impl, t.id, &got));
    ck_assert_str_eq(got->id, t.id);
    ck_assert_str_eq(got->name, "Acme");
    ck_assert_str_eq(got->domain, domain);
    ck_assert_int_eq(got->created, 1732600001);
    chat_team_free(got);
    got = NULL;
    ck_assert_chat_ok(ops->get_team_by_domain(impl, domain, &got));
    ck_assert_str_eq(got->id, t.id);
    chat_team_free(got);

    /* Domain clash: name_taken, and the second team does not exist. */
    chat_team t2 = t;
    new_id('T', t2.id);
    ck_assert_chat_err(ops->create_team(impl, &t2), CHAT_ERR_NAME_TAKEN);
    got = NULL;
    ck_assert_chat_err(ops->get_team(impl, t2.id, &got), CHAT_ERR_TEAM_NOT_FOUND);
    ck_assert_ptr_null(got);

    /* domain NULL is the first workspace: never one created after ours. */
    char domain2[48];
    snprintf(domain2, sizeof domain2, "later-%s", t2.id);
    t2.domain = domain2;
    ck_assert_chat_ok(ops->create_team(impl, &t2));
    ck_assert_chat_ok(ops->get_team_by_domain(impl, NULL, &got));
    ck_assert_str_ne(got->id, t2.id);
    chat_team_free(got);

    ck_assert_chat_err(ops->get_team_by_domain(impl, "no-such-domain-xyz", &got),
                       CHAT_ERR_NOT_FOUND);
}
END_TEST

/* ---- users ---- */

START_TEST(user_round_trip)
{
    char team[CHAT_ID_SIZE];
    make_team(team);
    test_user tu;
    init_user(&tu, team);
    tu.u.real_name = "Ada Lovelace";
    tu.u.display_name = "ada";
    tu.u.title = "Analyst";
    tu.u.status_text = "computing";
    tu.u.status_emoji = ":gear:";
    tu.u.tz = "Europe/London";
    tu.u.is_admin = true;
    tu.u.created = 1732600002;
    tu.u.updated = 1732600003;
    ck_assert_chat_ok(ops->create_user(impl, &tu.u));

    chat_user *got = NULL;
    ck_assert_chat_ok(ops->get_user(impl, tu.u.id, &got));
    ck_assert_str_eq(got->id, tu.u.id);
    ck_assert_str_eq(got->team_id, team);
    ck_assert_str_eq(got->email, tu.email);
    ck_assert_str_eq(got->name, tu.name);
    ck_assert_str_eq(got->real_name, "Ada Lovelace");
    ck_assert_str_eq(got->display_name, "ada");
    ck_assert_str_eq(got->title, "Analyst");
    ck_assert_str_eq(got->status_text, "computing");
    ck_assert_str_eq(got->status_emoji, ":gear:");
    ck_assert_str_eq(got->tz, "Europe/London");
    ck_assert(got->is_admin);
    ck_assert(!got->deleted);
    ck_assert_int_eq(got->created, 1732600002);
    ck_assert_int_eq(got->updated, 1732600003);
    chat_user_free(got);

    /* By email, in any case, within the team. */
    char upper[80];
    snprintf(upper, sizeof upper, "%s", tu.email);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    got = NULL;
    ck_assert_chat_ok(ops->get_user_by_email(impl, team, upper, &got));
    ck_assert_str_eq(got->id, tu.u.id);
    chat_user_free(got);

    char other[CHAT_ID_SIZE];
    make_team(other);
    got = NULL;
    ck_assert_chat_err(ops->get_user_by_email(impl, other, tu.email, &got),
                       CHAT_ERR_USER_NOT_FOUND);
    ck_assert_chat_err(ops->get_user_by_email(impl, team, "nobody@example.com", &got),
                       CHAT_ERR_USER_NOT_FOUND);
    char missing[CHAT_ID_SIZE];
    new_id('U', missing);
    ck_assert_chat_err(ops->get_user(impl, missing, &got), CHAT_ERR_USER_NOT_FOUND);
    ck_assert_ptr_null(got);
    ck_assert_chat_ok(ops->get_user(impl, tu.u.id, &got));
    ck_assert_str_eq(got->bot_id, ""); /* a person */
    ck_assert_str_eq(got->app_id, "");
    chat_user_free(got);

    /* An app's bot user: no email, its bot and app ids. */
    test_user bot;
    init_user(&bot, team);
    bot.u.email = NULL;
    strcpy(bot.u.bot_id, "B0123456789");
    strcpy(bot.u.app_id, "A0123456789");
    ck_assert_chat_ok(ops->create_user(impl, &bot.u));
    ck_assert_chat_ok(ops->get_user(impl, bot.u.id, &got));
    ck_assert_ptr_null(got->email);
    ck_assert_str_eq(got->bot_id, "B0123456789");
    ck_assert_str_eq(got->app_id, "A0123456789");
    chat_user_free(got);
}
END_TEST

START_TEST(user_uniqueness)
{
    char team[CHAT_ID_SIZE], other[CHAT_ID_SIZE];
    make_team(team);
    make_team(other);
    test_user a;
    init_user(&a, team);
    ck_assert_chat_ok(ops->create_user(impl, &a.u));
    chat_user *got = NULL;

    /* Same name in the same team. */
    test_user b;
    init_user(&b, team);
    b.u.name = a.name;
    ck_assert_chat_err(ops->create_user(impl, &b.u), CHAT_ERR_NAME_TAKEN);
    ck_assert_chat_err(ops->get_user(impl, b.u.id, &got), CHAT_ERR_USER_NOT_FOUND);
    /* ...is fine in another team. */
    memcpy(b.u.team_id, other, CHAT_ID_SIZE);
    ck_assert_chat_ok(ops->create_user(impl, &b.u));

    /* Emails are unique across the server, whatever their case. */
    test_user c;
    init_user(&c, other);
    char email[80];
    snprintf(email, sizeof email, "%s", a.email);
    for (char *p = email; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    c.u.email = email;
    ck_assert_chat_err(ops->create_user(impl, &c.u), CHAT_ERR_EMAIL_TAKEN);
    ck_assert_chat_err(ops->get_user(impl, c.u.id, &got), CHAT_ERR_USER_NOT_FOUND);

    /* Same id: duplicate. */
    test_user d;
    init_user(&d, team);
    memcpy(d.u.id, a.u.id, CHAT_ID_SIZE);
    ck_assert_chat_err(ops->create_user(impl, &d.u), CHAT_ERR_DUPLICATE);
    ck_assert_chat_err(ops->get_user_by_email(impl, NULL, d.email, &got),
                       CHAT_ERR_USER_NOT_FOUND);

    /* Unknown workspace. */
    char nowhere[CHAT_ID_SIZE];
    new_id('T', nowhere);
    test_user e;
    init_user(&e, nowhere);
    ck_assert_chat_err(ops->create_user(impl, &e.u), CHAT_ERR_TEAM_NOT_FOUND);

    /* Users without an email do not clash with each other. */
    test_user f, g;
    init_user(&f, team);
    init_user(&g, team);
    f.u.email = NULL;
    g.u.email = NULL;
    ck_assert_chat_ok(ops->create_user(impl, &f.u));
    ck_assert_chat_ok(ops->create_user(impl, &g.u));
}
END_TEST

START_TEST(delete_user_frees_name_and_email)
{
    char team[CHAT_ID_SIZE];
    make_team(team);
    test_user a;
    init_user(&a, team);
    ck_assert_chat_ok(ops->create_user(impl, &a.u));
    ck_assert_chat_ok(ops->delete_user(impl, a.u.id));
    chat_user *got = NULL;
    ck_assert_chat_err(ops->get_user(impl, a.u.id, &got), CHAT_ERR_USER_NOT_FOUND);
    ck_assert_chat_err(ops->delete_user(impl, a.u.id), CHAT_ERR_USER_NOT_FOUND);
    /* The handle and the address can be used again. */
    ck_assert_chat_ok(ops->create_user(impl, &a.u));
}
END_TEST

START_TEST(user_update)
{
    char team[CHAT_ID_SIZE];
    make_team(team);
    test_user tu;
    init_user(&tu, team);
    tu.u.real_name = "Old Name";
    tu.u.title = "Old title";
    ck_assert_chat_ok(ops->create_user(impl, &tu.u));

    chat_user upd = tu.u;
    upd.name = "ignored-new-handle";
    upd.email = "ignored@example.com";
    upd.real_name = "New Name";
    upd.title = NULL; /* cleared */
    upd.status_emoji = ":tada:";
    upd.deleted = true;
    upd.is_admin = true;
    upd.updated = 1732700000;
    ck_assert_chat_ok(ops->update_user(impl, &upd));

    chat_user *got = NULL;
    ck_assert_chat_ok(ops->get_user(impl, tu.u.id, &got));
    ck_assert_str_eq(got->name, tu.name);   /* the handle and email stay */
    ck_assert_str_eq(got->email, tu.email);
    ck_assert_str_eq(got->real_name, "New Name");
    ck_assert(got->title == NULL || got->title[0] == '\0');
    ck_assert_str_eq(got->status_emoji, ":tada:");
    ck_assert(got->deleted);
    ck_assert(got->is_admin);
    ck_assert_int_eq(got->updated, 1732700000);
    ck_assert_int_eq(got->created, tu.u.created);
    chat_user_free(got);

    new_id('U', upd.id);
    ck_assert_chat_err(ops->update_user(impl, &upd), CHAT_ERR_USER_NOT_FOUND);
}
END_TEST

static int cmp_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

START_TEST(list_users_pages)
{
    enum { N = 250 };
    char team[CHAT_ID_SIZE], other[CHAT_ID_SIZE];
    make_team(team);
    make_team(other);
    static char ids[N][CHAT_ID_SIZE];
    for (int i = 0; i < N; i++)
        add_user(team, ids[i]);
    for (int i = 0; i < 5; i++)
        add_user(other, NULL); /* must not show up */
    qsort(ids, N, CHAT_ID_SIZE, cmp_ids);

    char *cursor = NULL;
    int seen = 0, pages = 0;
    do {
        chat_list *l = NULL;
        ck_assert_chat_ok(ops->list_users(impl, team, cursor, 100, &l));
        ck_assert_int_eq(chat_list_kind_of(l), CHAT_LIST_USERS);
        size_t n = chat_list_count(l);
        ck_assert_uint_eq(n, pages < 2 ? 100 : 50);
        for (size_t i = 0; i < n; i++) {
            const chat_user *u = chat_list_user(l, i);
            ck_assert_int_lt(seen, N);
            ck_assert_str_eq(u->id, ids[seen]); /* in order, no gap, no repeat */
            ck_assert_str_eq(u->team_id, team);
            seen++;
        }
        free(cursor);
        cursor = chat_list_next_cursor(l) ? strdup(chat_list_next_cursor(l)) : NULL;
        ck_assert(chat_list_has_more(l) == (cursor != NULL));
        chat_list_free(l);
        pages++;
    } while (cursor != NULL && pages < 10);
    ck_assert_int_eq(seen, N);
    ck_assert_int_eq(pages, 3);

    /* limit 0 is the default page (100). */
    chat_list *l = NULL;
    ck_assert_chat_ok(ops->list_users(impl, team, NULL, 0, &l));
    ck_assert_uint_eq(chat_list_count(l), CHAT_DEFAULT_PAGE);
    ck_assert_ptr_nonnull(chat_list_next_cursor(l));
    chat_list_free(l);
    /* An exact last page has no cursor. */
    l = NULL;
    ck_assert_chat_ok(ops->list_users(impl, team, NULL, N, &l));
    ck_assert_uint_eq(chat_list_count(l), N);
    ck_assert_ptr_null(chat_list_next_cursor(l));
    ck_assert(!chat_list_has_more(l));
    chat_list_free(l);
}
END_TEST

START_TEST(list_users_bad_input)
{
    char team[CHAT_ID_SIZE];
    make_team(team);
    add_user(team, NULL);
    chat_list *l = NULL;
    ck_assert_chat_err(ops->list_users(impl, team, "garbage!!", 10, &l),
                       CHAT_ERR_INVALID_CURSOR);
    ck_assert_chat_err(ops->list_users(impl, team, "Zm9vYmFy", 10, &l),
                       CHAT_ERR_INVALID_CURSOR);
    ck_assert_chat_err(ops->list_users(impl, team, NULL, -1, &l), CHAT_ERR_INVALID_LIMIT);
    ck_assert_chat_err(ops->list_users(impl, team, NULL, CHAT_MAX_PAGE + 1, &l),
                       CHAT_ERR_INVALID_LIMIT);
    ck_assert_ptr_null(l);
    /* An empty workspace lists nothing. */
    char empty[CHAT_ID_SIZE];
    make_team(empty);
    ck_assert_chat_ok(ops->list_users(impl, empty, NULL, 10, &l));
    ck_assert_uint_eq(chat_list_count(l), 0);
    ck_assert_ptr_null(chat_list_next_cursor(l));
    chat_list_free(l);
}
END_TEST

/* ---- read markers ---- */

START_TEST(read_markers)
{
    char user[CHAT_ID_SIZE], chan[CHAT_ID_SIZE], chan2[CHAT_ID_SIZE];
    new_id('U', user);
    new_id('C', chan);
    new_id('C', chan2);
    char ts[CHAT_TS_SIZE] = "x";
    ck_assert_chat_ok(ops->get_read_marker(impl, user, chan, ts));
    ck_assert_str_eq(ts, "");

    ck_assert_chat_ok(ops->set_read_marker(impl, user, chan, "1732600000.000200"));
    ck_assert_chat_ok(ops->get_read_marker(impl, user, chan, ts));
    ck_assert_str_eq(ts, "1732600000.000200");
    ck_assert_chat_ok(ops->get_read_marker(impl, user, chan2, ts));
    ck_assert_str_eq(ts, "");

    /* Markers may move back ("mark unread"); Slack's short form is accepted. */
    ck_assert_chat_ok(ops->set_read_marker(impl, user, chan, "1732500000.5"));
    ck_assert_chat_ok(ops->get_read_marker(impl, user, chan, ts));
    ck_assert_str_eq(ts, "1732500000.500000");

    ck_assert_chat_err(ops->set_read_marker(impl, user, chan, "yesterday"),
                       CHAT_ERR_INVALID_TS);
    ck_assert_chat_ok(ops->get_read_marker(impl, user, chan, ts));
    ck_assert_str_eq(ts, "1732500000.500000");

    ck_assert_chat_ok(ops->set_read_marker(impl, user, chan, ""));
    ck_assert_chat_ok(ops->get_read_marker(impl, user, chan, ts));
    ck_assert_str_eq(ts, "");
}
END_TEST

/* ---- activity and counts ---- */

START_TEST(counts_follow_marker)
{
    char me[CHAT_ID_SIZE], them[CHAT_ID_SIZE], chan[CHAT_ID_SIZE], other[CHAT_ID_SIZE];
    new_id('U', me);
    new_id('U', them);
    new_id('C', chan);
    new_id('C', other);
    expect_counts(me, chan, 0, 0);

    act x[8];
    for (int i = 0; i < 5; i++) /* 5 by them, one mentioning me, one @here */
        set_act(&x[i], CHAT_ACTIVITY_POSTED, chan, 1000 + i, them,
                i == 3 ? CHAT_MENTION_HERE : 0, i == 1 ? me : NULL);
    set_act(&x[5], CHAT_ACTIVITY_POSTED, chan, 1005, me, CHAT_MENTION_CHANNEL, NULL); /* mine */
    set_act(&x[6], CHAT_ACTIVITY_POSTED, other, 1006, them, 0, me); /* another channel */
    chat_activity batch[7];
    for (int i = 0; i < 7; i++)
        batch[i] = x[i].a;
    ck_assert_chat_ok(ops->apply_activity(impl, batch, 7));

    expect_counts(me, chan, 5, 2);
    expect_counts(them, chan, 1, 1); /* my @channel counts for them */
    expect_counts(me, other, 1, 1);

    /* Marker on the 2nd message (which mentions me): 3 left, 1 mention. */
    ck_assert_chat_ok(ops->set_read_marker(impl, me, chan, x[1].ts));
    expect_counts(me, chan, 3, 1);
    ck_assert_chat_ok(ops->set_read_marker(impl, me, chan, x[4].ts));
    expect_counts(me, chan, 0, 0);
    expect_counts(them, chan, 1, 1); /* others' markers are their own */

    /* NULL outputs are allowed. */
    int64_t u = -1;
    ck_assert_chat_ok(ops->counts(impl, them, chan, &u, NULL));
    ck_assert_int_eq(u, 1);
}
END_TEST

START_TEST(activity_idempotent)
{
    char me[CHAT_ID_SIZE], them[CHAT_ID_SIZE], chan[CHAT_ID_SIZE];
    new_id('U', me);
    new_id('U', them);
    new_id('C', chan);
    act x[4];
    set_act(&x[0], CHAT_ACTIVITY_POSTED, chan, 2000, them, 0, me);
    set_act(&x[1], CHAT_ACTIVITY_POSTED, chan, 2001, them, 0, NULL);
    set_act(&x[2], CHAT_ACTIVITY_EDITED, chan, 2000, them, 0, NULL); /* drops the mention */
    set_act(&x[3], CHAT_ACTIVITY_POSTED, chan, 2002, them, 0, me);
    chat_activity batch[5];
    for (int i = 0; i < 4; i++)
        batch[i] = x[i].a;
    batch[4] = x[1].a; /* the same event twice in one batch */
    ck_assert_chat_ok(ops->apply_activity(impl, batch, 5));
    expect_counts(me, chan, 3, 1);

    /* The whole batch again: nothing changes, not even the edit re-applied
     * after a later event. */
    ck_assert_chat_ok(ops->apply_activity(impl, batch, 5));
    expect_counts(me, chan, 3, 1);

    /* A redelivered old post of the edited message does not bring back its
     * mention. */
    apply1(&x[0]);
    expect_counts(me, chan, 3, 1);
    ck_assert_chat_ok(ops->apply_activity(impl, NULL, 0));

    /* Where only the event id can tell: an edit that added a mention is
     * redelivered after a later edit removed it. */
    act add, drop;
    set_act(&add, CHAT_ACTIVITY_EDITED, chan, 2001, them, 0, me);
    set_act(&drop, CHAT_ACTIVITY_EDITED, chan, 2001, them, 0, NULL);
    apply1(&add);
    expect_counts(me, chan, 3, 2);
    apply1(&drop);
    expect_counts(me, chan, 3, 1);
    apply1(&add);
    expect_counts(me, chan, 3, 1);
}
END_TEST

START_TEST(edits_change_mentions)
{
    char me[CHAT_ID_SIZE], them[CHAT_ID_SIZE], chan[CHAT_ID_SIZE];
    new_id('U', me);
    new_id('U', them);
    new_id('C', chan);
    act x;
    set_act(&x, CHAT_ACTIVITY_POSTED, chan, 3000, them, 0, NULL);
    apply1(&x);
    expect_counts(me, chan, 1, 0);

    set_act(&x, CHAT_ACTIVITY_EDITED, chan, 3000, them, 0, me);
    apply1(&x);
    expect_counts(me, chan, 1, 1);

    set_act(&x, CHAT_ACTIVITY_EDITED, chan, 3000, them, 0, NULL);
    apply1(&x);
    expect_counts(me, chan, 1, 0);

    set_act(&x, CHAT_ACTIVITY_EDITED, chan, 3000, them, CHAT_MENTION_CHANNEL, NULL);
    apply1(&x);
    expect_counts(me, chan, 1, 1);

    /* Both a flag and my id still count once. */
    set_act(&x, CHAT_ACTIVITY_EDITED, chan, 3000, them, CHAT_MENTION_HERE, me);
    apply1(&x);
    expect_counts(me, chan, 1, 1);
}
END_TEST

START_TEST(deletes)
{
    char me[CHAT_ID_SIZE], them[CHAT_ID_SIZE], chan[CHAT_ID_SIZE];
    new_id('U', me);
    new_id('U', them);
    new_id('C', chan);
    act a, b, del;
    set_act(&a, CHAT_ACTIVITY_POSTED, chan, 4000, them, 0, me);
    set_act(&b, CHAT_ACTIVITY_POSTED, chan, 4001, them, 0, NULL);
    apply1(&a);
    apply1(&b);
    expect_counts(me, chan, 2, 1);

    set_act(&del, CHAT_ACTIVITY_DELETED, chan, 4000, them, 0, NULL);
    apply1(&del);
    expect_counts(me, chan, 1, 0);

    /* An edit of a deleted message does not revive it. */
    act ed;
    set_act(&ed, CHAT_ACTIVITY_EDITED, chan, 4000, them, 0, me);
    apply1(&ed);
    expect_counts(me, chan, 1, 0);

    /* Deleting twice (another event id) is harmless. */
    set_act(&del, CHAT_ACTIVITY_DELETED, chan, 4000, NULL, 0, NULL);
    apply1(&del);
    expect_counts(me, chan, 1, 0);
}
END_TEST

START_TEST(delete_before_post)
{
    char me[CHAT_ID_SIZE], them[CHAT_ID_SIZE], chan[CHAT_ID_SIZE];
    new_id('U', me);
    new_id('U', them);
    new_id('C', chan);
    act del, post, keep;
    set_act(&del, CHAT_ACTIVITY_DELETED, chan, 5000, them, 0, NULL);
    set_act(&post, CHAT_ACTIVITY_POSTED, chan, 5000, them, CHAT_MENTION_CHANNEL, me);
    set_act(&keep, CHAT_ACTIVITY_POSTED, chan, 5001, them, 0, NULL);
    apply1(&del);
    expect_counts(me, chan, 0, 0);
    chat_activity batch[2] = {post.a, keep.a};
    ck_assert_chat_ok(ops->apply_activity(impl, batch, 2));
    expect_counts(me, chan, 1, 0);
}
END_TEST

START_TEST(failed_batch_changes_nothing)
{
    char me[CHAT_ID_SIZE], them[CHAT_ID_SIZE], chan[CHAT_ID_SIZE];
    new_id('U', me);
    new_id('U', them);
    new_id('C', chan);
    act good1, good2, bad;
    set_act(&good1, CHAT_ACTIVITY_POSTED, chan, 6000, them, 0, me);
    set_act(&good2, CHAT_ACTIVITY_POSTED, chan, 6001, them, 0, NULL);
    set_act(&bad, CHAT_ACTIVITY_POSTED, chan, 6002, them, 0, NULL);
    snprintf(bad.ts, sizeof bad.ts, "not-a-ts");

    chat_activity batch[3] = {good1.a, good2.a, bad.a};
    ck_assert_chat_err(ops->apply_activity(impl, batch, 3), CHAT_ERR_INVALID_TS);
    expect_counts(me, chan, 0, 0);

    bad.a.ts = "6002.000100";
    bad.a.event_id = NULL;
    batch[2] = bad.a;
    ck_assert_chat_err(ops->apply_activity(impl, batch, 3), CHAT_ERR_INVALID_ARGUMENTS);
    expect_counts(me, chan, 0, 0);

    /* The good events were not consumed by the failed calls. */
    ck_assert_chat_ok(ops->apply_activity(impl, batch, 2));
    expect_counts(me, chan, 2, 1);
}
END_TEST

START_TEST(counts_many)
{
    /* Enough rows that a per-row mistake in the indexes would show. */
    enum { N = 500 };
    char me[CHAT_ID_SIZE], them[CHAT_ID_SIZE], chan[CHAT_ID_SIZE];
    new_id('U', me);
    new_id('U', them);
    new_id('C', chan);
    static act x[N];
    static chat_activity batch[N];
    for (int i = 0; i < N; i++) {
        set_act(&x[i], CHAT_ACTIVITY_POSTED, chan, 7000 + i, i % 10 == 0 ? me : them,
                0, i % 7 == 0 ? me : NULL);
        batch[i] = x[i].a;
    }
    ck_assert_chat_ok(ops->apply_activity(impl, batch, N));
    /* After the marker at i = 249: i in 250..499, not mine (i % 10 != 0). */
    ck_assert_chat_ok(ops->set_read_marker(impl, me, chan, x[249].ts));
    int64_t unread = 0, mentions = 0;
    for (int i = 250; i < N; i++)
        if (i % 10 != 0) {
            unread++;
            if (i % 7 == 0)
                mentions++;
        }
    expect_counts(me, chan, unread, mentions);
}
END_TEST

int main(int argc, char **argv)
{
    contract_init(argc, argv, "sqlite:{tmp}/user.db");
    Suite *s = suite_create("user_store");
    TCase *tc = tcase_create("contract");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, teams);
    tcase_add_test(tc, usergroups);
    tcase_add_test(tc, user_round_trip);
    tcase_add_test(tc, user_uniqueness);
    tcase_add_test(tc, user_update);
    tcase_add_test(tc, delete_user_frees_name_and_email);
    tcase_add_test(tc, list_users_pages);
    tcase_add_test(tc, list_users_bad_input);
    tcase_add_test(tc, read_markers);
    tcase_add_test(tc, counts_follow_marker);
    tcase_add_test(tc, activity_idempotent);
    tcase_add_test(tc, edits_change_mentions);
    tcase_add_test(tc, deletes);
    tcase_add_test(tc, delete_before_post);
    tcase_add_test(tc, failed_batch_changes_nothing);
    tcase_add_test(tc, counts_many);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
