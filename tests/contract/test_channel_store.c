/*
 * Contract tests for chat_channel_store_ops: every channel store backend must
 * pass.
 *
 * argv[1] is the store URL; "{tmp}" in it becomes a fresh directory per test
 * ("sqlite:{tmp}/channel.db"). Every test works in its own fresh workspace
 * and user ids, so a backend on a shared database passes too.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/store.h>

#include "core/internal.h"
#include "contract.h"
#include "testutil.h"

static const chat_channel_store_ops *ops;
static void *impl;

static void setup(void)
{
    const char *url = contract_begin("channel");
    ops = chati_backend_find(CHATI_IFACE_CHANNEL, url);
    ck_assert_msg(ops != NULL, "no channel store for %s", url);
    ck_assert_uint_eq(ops->version, CHAT_STORE_V6); /* with pins */
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

typedef struct test_chan {
    chat_channel c;
    char name[48];
    char dm_key[3 * CHAT_ID_SIZE];
} test_chan;

static void init_chan(test_chan *t, const char *team, chat_channel_type type, const char *name)
{
    memset(t, 0, sizeof *t);
    new_id(type == CHAT_CHANNEL_IM ? 'D' : type == CHAT_CHANNEL_MPIM ? 'G' : 'C', t->c.id);
    memcpy(t->c.team_id, team, strlen(team) + 1);
    if (name != NULL)
        snprintf(t->name, sizeof t->name, "%s", name);
    else
        snprintf(t->name, sizeof t->name, "ch-%s", t->c.id);
    for (char *p = t->name; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    t->c.name = t->name;
    t->c.type = type;
    snprintf(t->c.creator, sizeof t->c.creator, "UCREATOR");
    t->c.created = 1732600000;
}

/* Sorted "a,b[,c]" into t's dm_key. */
static void set_dm_key(test_chan *t, const char *a, const char *b, const char *c)
{
    const char *v[3] = {a, b, c};
    int n = c != NULL ? 3 : 2;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(v[j], v[i]) < 0) {
                const char *tmp = v[i];
                v[i] = v[j];
                v[j] = tmp;
            }
    t->dm_key[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i > 0)
            strcat(t->dm_key, ",");
        strcat(t->dm_key, v[i]);
    }
    t->c.dm_key = t->dm_key;
}

static void create(test_chan *t, const char (*members)[CHAT_ID_SIZE], size_t n)
{
    ck_assert_chat_ok(ops->create(impl, &t->c, members, n, NULL));
}

static int count_in(const chat_list *l, const char *id)
{
    int k = 0;
    for (size_t i = 0; i < chat_list_count(l); i++)
        if (strcmp(chat_list_channel(l, i)->id, id) == 0)
            k++;
    return k;
}

static void assert_sorted(const chat_list *l)
{
    for (size_t i = 1; i < chat_list_count(l); i++)
        ck_assert_msg(strcmp(chat_list_channel(l, i - 1)->id, chat_list_channel(l, i)->id) < 0,
                      "channels out of order at %zu", i);
}

static chat_list *list(const char *team, unsigned types, bool exclude_archived,
                       const char *member_of)
{
    chat_list *l = NULL;
    ck_assert_chat_ok(ops->list(impl, team, types, exclude_archived, member_of, NULL, 100, &l));
    ck_assert_int_eq(chat_list_kind_of(l), CHAT_LIST_CHANNELS);
    assert_sorted(l);
    return l;
}

/* ---- tests ---- */

START_TEST(create_and_get)
{
    char team[CHAT_ID_SIZE];
    new_id('T', team);
    char members[2][CHAT_ID_SIZE];
    new_id('U', members[0]);
    new_id('U', members[1]);
    test_chan t;
    init_chan(&t, team, CHAT_CHANNEL_PUBLIC, NULL);
    t.c.topic = "the topic";
    snprintf(t.c.topic_creator, CHAT_ID_SIZE, "%s", members[0]);
    t.c.topic_last_set = 1732600001;
    t.c.purpose = "the purpose";
    t.c.is_general = true;
    create(&t, (const char (*)[CHAT_ID_SIZE])members, 2);

    chat_channel *got = NULL;
    ck_assert_chat_ok(ops->get(impl, t.c.id, &got));
    ck_assert_str_eq(got->id, t.c.id);
    ck_assert_str_eq(got->team_id, team);
    ck_assert_str_eq(got->name, t.name);
    ck_assert_int_eq(got->type, CHAT_CHANNEL_PUBLIC);
    ck_assert_str_eq(got->creator, "UCREATOR");
    ck_assert_int_eq(got->created, 1732600000);
    ck_assert_str_eq(got->topic, "the topic");
    ck_assert_str_eq(got->topic_creator, members[0]);
    ck_assert_int_eq(got->topic_last_set, 1732600001);
    ck_assert_str_eq(got->purpose, "the purpose");
    ck_assert(got->is_general);
    ck_assert(!got->is_archived);
    ck_assert(got->dm_key == NULL || got->dm_key[0] == '\0');
    ck_assert_str_eq(got->last_activity, "");
    ck_assert_int_eq(got->member_count, 2);
    ck_assert(!got->is_member); /* caller-relative fields stay zero */
    ck_assert_int_eq(got->unread_count, 0);
    chat_channel_free(got);

    got = NULL;
    ck_assert_chat_ok(ops->get_by_name(impl, team, t.name, &got));
    ck_assert_str_eq(got->id, t.c.id);
    chat_channel_free(got);

    char missing[CHAT_ID_SIZE];
    new_id('C', missing);
    got = NULL;
    ck_assert_chat_err(ops->get(impl, missing, &got), CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_chat_err(ops->get_by_name(impl, team, "no-such-name", &got),
                       CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_chat_err(ops->get_by_dm_key(impl, team, "UA,UB", &got),
                       CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_ptr_null(got);
}
END_TEST

START_TEST(name_taken_changes_nothing)
{
    char team[CHAT_ID_SIZE], other[CHAT_ID_SIZE], u[1][CHAT_ID_SIZE];
    new_id('T', team);
    new_id('T', other);
    new_id('U', u[0]);
    test_chan a, b;
    init_chan(&a, team, CHAT_CHANNEL_PUBLIC, "general-talk");
    create(&a, NULL, 0);

    /* Public and private channels share one namespace. */
    init_chan(&b, team, CHAT_CHANNEL_PRIVATE, "general-talk");
    chat_channel *existing = NULL;
    ck_assert_chat_err(ops->create(impl, &b.c, (const char (*)[CHAT_ID_SIZE])u, 1, &existing),
                       CHAT_ERR_NAME_TAKEN);
    ck_assert_ptr_null(existing);
    chat_channel *got = NULL;
    ck_assert_chat_err(ops->get(impl, b.c.id, &got), CHAT_ERR_CHANNEL_NOT_FOUND);
    chat_list *l = NULL;
    ck_assert_chat_ok(ops->list_for_member(impl, u[0], CHAT_CHANNEL_ALL, false, NULL, 10, &l));
    ck_assert_uint_eq(chat_list_count(l), 0); /* its member was not added either */
    chat_list_free(l);

    /* The same name in another workspace is fine. */
    memcpy(b.c.team_id, other, CHAT_ID_SIZE);
    create(&b, NULL, 0);

    /* Same id: duplicate. */
    test_chan c;
    init_chan(&c, team, CHAT_CHANNEL_PUBLIC, NULL);
    memcpy(c.c.id, a.c.id, CHAT_ID_SIZE);
    ck_assert_chat_err(ops->create(impl, &c.c, NULL, 0, NULL), CHAT_ERR_DUPLICATE);
    ck_assert_chat_err(ops->get_by_name(impl, team, c.name, &got), CHAT_ERR_CHANNEL_NOT_FOUND);
}
END_TEST

START_TEST(dm_key_unique)
{
    char team[CHAT_ID_SIZE], other[CHAT_ID_SIZE];
    new_id('T', team);
    new_id('T', other);
    char u[3][CHAT_ID_SIZE];
    for (int i = 0; i < 3; i++)
        new_id('U', u[i]);

    test_chan im;
    init_chan(&im, team, CHAT_CHANNEL_IM, NULL);
    set_dm_key(&im, u[0], u[1], NULL);
    create(&im, (const char (*)[CHAT_ID_SIZE])u, 2);

    /* The same pair again: duplicate, with the existing conversation. */
    test_chan again;
    init_chan(&again, team, CHAT_CHANNEL_IM, NULL);
    set_dm_key(&again, u[1], u[0], NULL);
    chat_channel *existing = NULL;
    ck_assert_chat_err(
        ops->create(impl, &again.c, (const char (*)[CHAT_ID_SIZE])u, 2, &existing),
        CHAT_ERR_DUPLICATE);
    ck_assert_ptr_nonnull(existing);
    ck_assert_str_eq(existing->id, im.c.id);
    ck_assert_str_eq(existing->dm_key, im.dm_key);
    ck_assert_int_eq(existing->member_count, 2);
    chat_channel_free(existing);
    chat_channel *got = NULL;
    ck_assert_chat_err(ops->get(impl, again.c.id, &got), CHAT_ERR_CHANNEL_NOT_FOUND);
    /* existing may be NULL. */
    ck_assert_chat_err(ops->create(impl, &again.c, NULL, 0, NULL), CHAT_ERR_DUPLICATE);

    ck_assert_chat_ok(ops->get_by_dm_key(impl, team, im.dm_key, &got));
    ck_assert_str_eq(got->id, im.c.id);
    ck_assert_int_eq(got->type, CHAT_CHANNEL_IM);
    chat_channel_free(got);

    /* A group DM of a superset, and the same pair in another workspace. */
    test_chan mp;
    init_chan(&mp, team, CHAT_CHANNEL_MPIM, NULL);
    set_dm_key(&mp, u[0], u[1], u[2]);
    create(&mp, (const char (*)[CHAT_ID_SIZE])u, 3);
    init_chan(&again, other, CHAT_CHANNEL_IM, NULL);
    set_dm_key(&again, u[0], u[1], NULL);
    create(&again, (const char (*)[CHAT_ID_SIZE])u, 2);
}
END_TEST

START_TEST(update)
{
    char team[CHAT_ID_SIZE];
    new_id('T', team);
    test_chan a, b;
    init_chan(&a, team, CHAT_CHANNEL_PUBLIC, NULL);
    init_chan(&b, team, CHAT_CHANNEL_PUBLIC, NULL);
    create(&a, NULL, 0);
    create(&b, NULL, 0);

    chat_channel upd = a.c;
    char newname[64];
    snprintf(newname, sizeof newname, "renamed-%s", a.name);
    upd.name = newname;
    upd.topic = "new topic";
    snprintf(upd.topic_creator, CHAT_ID_SIZE, "UTOPIC");
    upd.topic_last_set = 1732600100;
    upd.purpose = "new purpose";
    snprintf(upd.purpose_creator, CHAT_ID_SIZE, "UPURPOSE");
    upd.purpose_last_set = 1732600200;
    upd.is_archived = true;
    ck_assert_chat_ok(ops->update(impl, &upd));

    chat_channel *got = NULL;
    ck_assert_chat_ok(ops->get(impl, a.c.id, &got));
    ck_assert_str_eq(got->name, newname);
    ck_assert_str_eq(got->topic, "new topic");
    ck_assert_str_eq(got->topic_creator, "UTOPIC");
    ck_assert_int_eq(got->topic_last_set, 1732600100);
    ck_assert_str_eq(got->purpose, "new purpose");
    ck_assert_str_eq(got->purpose_creator, "UPURPOSE");
    ck_assert_int_eq(got->purpose_last_set, 1732600200);
    ck_assert(got->is_archived);
    chat_channel_free(got);
    /* The old name is free again; the new one resolves. */
    ck_assert_chat_err(ops->get_by_name(impl, team, a.name, &got), CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_chat_ok(ops->get_by_name(impl, team, newname, &got));
    chat_channel_free(got);

    /* Renaming onto another channel's name fails and changes nothing. */
    chat_channel clash = upd;
    clash.name = b.name;
    clash.topic = "should not stick";
    ck_assert_chat_err(ops->update(impl, &clash), CHAT_ERR_NAME_TAKEN);
    ck_assert_chat_ok(ops->get(impl, a.c.id, &got));
    ck_assert_str_eq(got->name, newname);
    ck_assert_str_eq(got->topic, "new topic");
    chat_channel_free(got);

    new_id('C', upd.id);
    ck_assert_chat_err(ops->update(impl, &upd), CHAT_ERR_CHANNEL_NOT_FOUND);
}
END_TEST

START_TEST(list_visibility)
{
    char team[CHAT_ID_SIZE], other[CHAT_ID_SIZE];
    new_id('T', team);
    new_id('T', other);
    char u[3][CHAT_ID_SIZE]; /* A, B, C */
    for (int i = 0; i < 3; i++)
        new_id('U', u[i]);
    const char (*A)[CHAT_ID_SIZE] = (const char (*)[CHAT_ID_SIZE])u;

    test_chan pub1, pub2, arch, priv, im, mp, foreign;
    init_chan(&pub1, team, CHAT_CHANNEL_PUBLIC, NULL);
    init_chan(&pub2, team, CHAT_CHANNEL_PUBLIC, NULL);
    init_chan(&arch, team, CHAT_CHANNEL_PUBLIC, NULL);
    arch.c.is_archived = true;
    init_chan(&priv, team, CHAT_CHANNEL_PRIVATE, NULL);
    init_chan(&im, team, CHAT_CHANNEL_IM, NULL);
    set_dm_key(&im, u[0], u[1], NULL);
    init_chan(&mp, team, CHAT_CHANNEL_MPIM, NULL);
    set_dm_key(&mp, u[0], u[1], u[2]);
    init_chan(&foreign, other, CHAT_CHANNEL_PRIVATE, NULL);
    create(&pub1, NULL, 0);
    create(&pub2, A, 1);
    create(&arch, NULL, 0);
    create(&priv, A, 1);     /* A only */
    create(&im, A, 2);       /* A, B */
    create(&mp, A, 3);       /* A, B, C */
    create(&foreign, A, 3);  /* another workspace */

    /* Nobody: the public channels only. */
    chat_list *l = list(team, CHAT_CHANNEL_ALL, false, NULL);
    ck_assert_uint_eq(chat_list_count(l), 3);
    ck_assert_int_eq(count_in(l, pub1.c.id) + count_in(l, pub2.c.id) + count_in(l, arch.c.id), 3);
    chat_list_free(l);

    /* A sees everything of the team, each once. */
    l = list(team, CHAT_CHANNEL_ALL, false, u[0]);
    ck_assert_uint_eq(chat_list_count(l), 6);
    ck_assert_int_eq(count_in(l, priv.c.id), 1);
    ck_assert_int_eq(count_in(l, pub2.c.id), 1);
    ck_assert_int_eq(count_in(l, foreign.c.id), 0);
    ck_assert_int_eq(chat_list_channel(l, 0)->member_count >= 0, 1);
    chat_list_free(l);

    /* C: public ones and the group DM. */
    l = list(team, CHAT_CHANNEL_ALL, false, u[2]);
    ck_assert_uint_eq(chat_list_count(l), 4);
    ck_assert_int_eq(count_in(l, mp.c.id), 1);
    ck_assert_int_eq(count_in(l, priv.c.id), 0);
    ck_assert_int_eq(count_in(l, im.c.id), 0);
    chat_list_free(l);

    /* Type filters and archived. */
    l = list(team, CHAT_CHANNEL_PRIVATE, false, u[0]);
    ck_assert_uint_eq(chat_list_count(l), 1);
    ck_assert_str_eq(chat_list_channel(l, 0)->id, priv.c.id);
    chat_list_free(l);
    l = list(team, CHAT_CHANNEL_PRIVATE, false, u[1]);
    ck_assert_uint_eq(chat_list_count(l), 0);
    chat_list_free(l);
    l = list(team, CHAT_CHANNEL_IM | CHAT_CHANNEL_MPIM, false, u[1]);
    ck_assert_uint_eq(chat_list_count(l), 2);
    chat_list_free(l);
    l = list(team, CHAT_CHANNEL_PUBLIC, true, u[0]);
    ck_assert_uint_eq(chat_list_count(l), 2);
    ck_assert_int_eq(count_in(l, arch.c.id), 0);
    chat_list_free(l);
    l = list(team, CHAT_CHANNEL_PUBLIC, false, u[0]);
    ck_assert_uint_eq(chat_list_count(l), 3);
    chat_list_free(l);

    /* member_count is filled in listings. */
    l = list(team, CHAT_CHANNEL_MPIM, false, u[0]);
    ck_assert_uint_eq(chat_list_count(l), 1);
    ck_assert_int_eq(chat_list_channel(l, 0)->member_count, 3);
    chat_list_free(l);
}
END_TEST

START_TEST(list_pages)
{
    enum { N = 25 };
    char team[CHAT_ID_SIZE], me[CHAT_ID_SIZE];
    new_id('T', team);
    new_id('U', me);
    const char (*M)[CHAT_ID_SIZE] = (const char (*)[CHAT_ID_SIZE])me;
    /* Public and private (mine) interleaved by id. */
    for (int i = 0; i < N; i++) {
        test_chan t;
        init_chan(&t, team, i % 3 == 0 ? CHAT_CHANNEL_PRIVATE : CHAT_CHANNEL_PUBLIC, NULL);
        create(&t, M, 1);
    }
    char *cursor = NULL;
    char last[CHAT_ID_SIZE] = "";
    int seen = 0, pages = 0;
    do {
        chat_list *l = NULL;
        ck_assert_chat_ok(ops->list(impl, team, CHAT_CHANNEL_ALL, false, me, cursor, 10, &l));
        assert_sorted(l);
        for (size_t i = 0; i < chat_list_count(l); i++) {
            const char *id = chat_list_channel(l, i)->id;
            ck_assert_msg(strcmp(id, last) > 0, "page %d repeats or goes back", pages);
            snprintf(last, sizeof last, "%s", id);
            seen++;
        }
        free(cursor);
        cursor = chat_list_next_cursor(l) ? strdup(chat_list_next_cursor(l)) : NULL;
        chat_list_free(l);
        pages++;
    } while (cursor != NULL && pages < 10);
    ck_assert_int_eq(seen, N);
    ck_assert_int_eq(pages, 3);

    chat_list *l = NULL;
    ck_assert_chat_err(ops->list(impl, team, CHAT_CHANNEL_ALL, false, me, "%%bad%%", 10, &l),
                       CHAT_ERR_INVALID_CURSOR);
    ck_assert_chat_err(ops->list(impl, team, CHAT_CHANNEL_ALL, false, me, NULL, 1001, &l),
                       CHAT_ERR_INVALID_LIMIT);
    ck_assert_chat_err(
        ops->list_for_member(impl, me, CHAT_CHANNEL_ALL, false, "Zm9vYmFy", 10, &l),
        CHAT_ERR_INVALID_CURSOR);
    ck_assert_ptr_null(l);
}
END_TEST

START_TEST(list_for_member)
{
    char team[CHAT_ID_SIZE], team2[CHAT_ID_SIZE], me[2][CHAT_ID_SIZE];
    new_id('T', team);
    new_id('T', team2);
    new_id('U', me[0]);
    new_id('U', me[1]);
    const char (*M)[CHAT_ID_SIZE] = (const char (*)[CHAT_ID_SIZE])me;
    test_chan pub, arch, priv, im, notmine;
    init_chan(&pub, team, CHAT_CHANNEL_PUBLIC, NULL);
    init_chan(&arch, team2, CHAT_CHANNEL_PUBLIC, NULL);
    arch.c.is_archived = true;
    init_chan(&priv, team, CHAT_CHANNEL_PRIVATE, NULL);
    init_chan(&im, team, CHAT_CHANNEL_IM, NULL);
    set_dm_key(&im, me[0], me[1], NULL);
    init_chan(&notmine, team, CHAT_CHANNEL_PUBLIC, NULL);
    create(&pub, M, 1);
    create(&arch, M, 1);
    create(&priv, M, 1);
    create(&im, M, 2);
    create(&notmine, NULL, 0);

    chat_list *l = NULL;
    ck_assert_chat_ok(ops->list_for_member(impl, me[0], CHAT_CHANNEL_ALL, false, NULL, 0, &l));
    assert_sorted(l);
    ck_assert_uint_eq(chat_list_count(l), 4);
    ck_assert_int_eq(count_in(l, notmine.c.id), 0);
    chat_list_free(l);
    l = NULL;
    ck_assert_chat_ok(ops->list_for_member(impl, me[0], CHAT_CHANNEL_ALL, true, NULL, 0, &l));
    ck_assert_uint_eq(chat_list_count(l), 3);
    ck_assert_int_eq(count_in(l, arch.c.id), 0);
    chat_list_free(l);
    l = NULL;
    ck_assert_chat_ok(ops->list_for_member(impl, me[0], CHAT_CHANNEL_PUBLIC | CHAT_CHANNEL_IM,
                                           false, NULL, 0, &l));
    ck_assert_uint_eq(chat_list_count(l), 3);
    ck_assert_int_eq(count_in(l, priv.c.id), 0);
    chat_list_free(l);

    /* Pages of one. */
    char *cursor = NULL;
    int seen = 0;
    for (int guard = 0; guard < 10; guard++) {
        l = NULL;
        ck_assert_chat_ok(ops->list_for_member(impl, me[0], CHAT_CHANNEL_ALL, false, cursor, 1, &l));
        seen += (int)chat_list_count(l);
        free(cursor);
        cursor = chat_list_next_cursor(l) ? strdup(chat_list_next_cursor(l)) : NULL;
        chat_list_free(l);
        if (cursor == NULL)
            break;
    }
    ck_assert_int_eq(seen, 4);
}
END_TEST

START_TEST(members)
{
    char team[CHAT_ID_SIZE];
    new_id('T', team);
    char u[4][CHAT_ID_SIZE];
    for (int i = 0; i < 4; i++)
        new_id('U', u[i]);
    test_chan t;
    init_chan(&t, team, CHAT_CHANNEL_PUBLIC, NULL);
    create(&t, (const char (*)[CHAT_ID_SIZE])u, 1); /* u0 */

    /* u1, u2 and u1 again in one call: two new. */
    char add[3][CHAT_ID_SIZE];
    memcpy(add[0], u[1], CHAT_ID_SIZE);
    memcpy(add[1], u[2], CHAT_ID_SIZE);
    memcpy(add[2], u[1], CHAT_ID_SIZE);
    size_t added = 99;
    ck_assert_chat_ok(ops->add_members(impl, t.c.id, (const char (*)[CHAT_ID_SIZE])add, 3, &added));
    ck_assert_uint_eq(added, 2);
    ck_assert_chat_ok(ops->add_members(impl, t.c.id, (const char (*)[CHAT_ID_SIZE])add, 2, &added));
    ck_assert_uint_eq(added, 0);
    ck_assert_chat_ok(ops->add_members(impl, t.c.id, (const char (*)[CHAT_ID_SIZE])add, 1, NULL));

    chat_channel *got = NULL;
    ck_assert_chat_ok(ops->get(impl, t.c.id, &got));
    ck_assert_int_eq(got->member_count, 3);
    chat_channel_free(got);

    bool in = false;
    ck_assert_chat_ok(ops->is_member(impl, t.c.id, u[2], &in));
    ck_assert(in);
    ck_assert_chat_ok(ops->is_member(impl, t.c.id, u[3], &in));
    ck_assert(!in);

    /* Leave, then rejoin: back at the end of the join order. */
    ck_assert_chat_ok(ops->remove_member(impl, t.c.id, u[0]));
    ck_assert_chat_err(ops->remove_member(impl, t.c.id, u[0]), CHAT_ERR_NOT_IN_CHANNEL);
    ck_assert_chat_err(ops->remove_member(impl, t.c.id, u[3]), CHAT_ERR_NOT_IN_CHANNEL);
    ck_assert_chat_ok(ops->is_member(impl, t.c.id, u[0], &in));
    ck_assert(!in);
    ck_assert_chat_ok(ops->add_members(impl, t.c.id, (const char (*)[CHAT_ID_SIZE])u, 1, &added));
    ck_assert_uint_eq(added, 1);

    chat_list *l = NULL;
    ck_assert_chat_ok(ops->list_members(impl, t.c.id, NULL, 0, &l));
    ck_assert_int_eq(chat_list_kind_of(l), CHAT_LIST_STRINGS);
    ck_assert_uint_eq(chat_list_count(l), 3);
    ck_assert_str_eq(chat_list_string(l, 0), u[1]);
    ck_assert_str_eq(chat_list_string(l, 1), u[2]);
    ck_assert_str_eq(chat_list_string(l, 2), u[0]);
    ck_assert_ptr_null(chat_list_next_cursor(l));
    chat_list_free(l);

    ck_assert_chat_ok(ops->get(impl, t.c.id, &got));
    ck_assert_int_eq(got->member_count, 3);
    chat_channel_free(got);
}
END_TEST

START_TEST(members_missing_channel)
{
    char ch[CHAT_ID_SIZE], u[1][CHAT_ID_SIZE];
    new_id('C', ch);
    new_id('U', u[0]);
    size_t added = 7;
    ck_assert_chat_err(ops->add_members(impl, ch, (const char (*)[CHAT_ID_SIZE])u, 1, &added),
                       CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_uint_eq(added, 7);
    ck_assert_chat_err(ops->remove_member(impl, ch, u[0]), CHAT_ERR_CHANNEL_NOT_FOUND);
    bool in = true;
    ck_assert_chat_err(ops->is_member(impl, ch, u[0], &in), CHAT_ERR_CHANNEL_NOT_FOUND);
    chat_list *l = NULL;
    ck_assert_chat_err(ops->list_members(impl, ch, NULL, 10, &l), CHAT_ERR_CHANNEL_NOT_FOUND);
    ck_assert_ptr_null(l);
}
END_TEST

START_TEST(list_members_pages)
{
    enum { N = 250 };
    char team[CHAT_ID_SIZE];
    new_id('T', team);
    static char u[N][CHAT_ID_SIZE];
    for (int i = 0; i < N; i++)
        new_id('U', u[i]);
    test_chan t;
    init_chan(&t, team, CHAT_CHANNEL_PUBLIC, NULL);
    create(&t, (const char (*)[CHAT_ID_SIZE])u, 100);
    for (int i = 100; i < N; i += 50) /* joined in several calls */
        ck_assert_chat_ok(
            ops->add_members(impl, t.c.id, (const char (*)[CHAT_ID_SIZE])u + i, 50, NULL));

    char *cursor = NULL;
    int seen = 0, pages = 0;
    do {
        chat_list *l = NULL;
        ck_assert_chat_ok(ops->list_members(impl, t.c.id, cursor, 100, &l));
        for (size_t i = 0; i < chat_list_count(l); i++, seen++)
            ck_assert_str_eq(chat_list_string(l, i), u[seen]); /* join order */
        free(cursor);
        cursor = chat_list_next_cursor(l) ? strdup(chat_list_next_cursor(l)) : NULL;
        chat_list_free(l);
        pages++;
    } while (cursor != NULL && pages < 10);
    ck_assert_int_eq(seen, N);
    ck_assert_int_eq(pages, 3);

    chat_list *l = NULL;
    ck_assert_chat_err(ops->list_members(impl, t.c.id, "!!nope", 10, &l),
                       CHAT_ERR_INVALID_CURSOR);
    ck_assert_chat_err(ops->list_members(impl, t.c.id, NULL, -5, &l), CHAT_ERR_INVALID_LIMIT);
}
END_TEST

START_TEST(touch_activity)
{
    char team[CHAT_ID_SIZE];
    new_id('T', team);
    test_chan a, b;
    init_chan(&a, team, CHAT_CHANNEL_PUBLIC, NULL);
    init_chan(&b, team, CHAT_CHANNEL_PUBLIC, NULL);
    create(&a, NULL, 0);
    create(&b, NULL, 0);
    char ghost[CHAT_ID_SIZE];
    new_id('C', ghost);

    char ch[3][CHAT_ID_SIZE];
    char ts[3][CHAT_TS_SIZE];
    memcpy(ch[0], a.c.id, CHAT_ID_SIZE);
    memcpy(ch[1], b.c.id, CHAT_ID_SIZE);
    memcpy(ch[2], ghost, CHAT_ID_SIZE); /* unknown channels are skipped */
    snprintf(ts[0], CHAT_TS_SIZE, "1732600002.000000");
    snprintf(ts[1], CHAT_TS_SIZE, "1732600001.000005");
    snprintf(ts[2], CHAT_TS_SIZE, "1732600009.000000");
    ck_assert_chat_ok(ops->touch_activity(impl, (const char (*)[CHAT_ID_SIZE])ch,
                                          (const char (*)[CHAT_TS_SIZE])ts, 3));

    chat_channel *got = NULL;
    ck_assert_chat_ok(ops->get(impl, a.c.id, &got));
    ck_assert_str_eq(got->last_activity, "1732600002.000000");
    chat_channel_free(got);
    ck_assert_chat_ok(ops->get(impl, b.c.id, &got));
    ck_assert_str_eq(got->last_activity, "1732600001.000005");
    chat_channel_free(got);

    /* Older ts never lower it; newer ones raise it; several per call. */
    memcpy(ch[1], a.c.id, CHAT_ID_SIZE);
    snprintf(ts[0], CHAT_TS_SIZE, "1732600001.000000");
    snprintf(ts[1], CHAT_TS_SIZE, "1732600003.000001");
    ck_assert_chat_ok(ops->touch_activity(impl, (const char (*)[CHAT_ID_SIZE])ch,
                                          (const char (*)[CHAT_TS_SIZE])ts, 2));
    ck_assert_chat_ok(ops->get(impl, a.c.id, &got));
    ck_assert_str_eq(got->last_activity, "1732600003.000001");
    chat_channel_free(got);
    ck_assert_chat_ok(ops->touch_activity(impl, (const char (*)[CHAT_ID_SIZE])ch,
                                          (const char (*)[CHAT_TS_SIZE])ts, 1));
    ck_assert_chat_ok(ops->get(impl, a.c.id, &got));
    ck_assert_str_eq(got->last_activity, "1732600003.000001");
    chat_channel_free(got);

    /* A bad ts anywhere refuses the whole call. */
    memcpy(ch[0], b.c.id, CHAT_ID_SIZE);
    snprintf(ts[0], CHAT_TS_SIZE, "1832600000.000000");
    snprintf(ts[1], CHAT_TS_SIZE, "soon");
    ck_assert_chat_err(ops->touch_activity(impl, (const char (*)[CHAT_ID_SIZE])ch,
                                           (const char (*)[CHAT_TS_SIZE])ts, 2),
                       CHAT_ERR_INVALID_TS);
    ck_assert_chat_ok(ops->get(impl, b.c.id, &got));
    ck_assert_str_eq(got->last_activity, "1732600001.000005");
    chat_channel_free(got);
    ck_assert_chat_ok(ops->touch_activity(impl, NULL, NULL, 0));
}
END_TEST

/* Threads on two handles (two connections to one database) adding members to
 * one channel at once: every call succeeds and nothing is lost or doubled. */
#define ADDERS 8
#define PER_ADDER 40

typedef struct adder {
    void *h;
    const char *channel;
    char users[PER_ADDER][CHAT_ID_SIZE];
    chat_err rv;
} adder;

static void *add_loop(void *arg)
{
    adder *a = arg;
    a->rv = CHAT_OK;
    /* One at a time, and each user twice, to interleave many transactions. */
    for (int i = 0; i < PER_ADDER && a->rv == CHAT_OK; i++)
        for (int k = 0; k < 2 && a->rv == CHAT_OK; k++)
            a->rv = ops->add_members(a->h, a->channel,
                                     (const char (*)[CHAT_ID_SIZE])a->users + i, 1, NULL);
    return NULL;
}

/* Pins: once each, at most max, newest first, removed once. */
START_TEST(pins)
{
    ck_assert_ptr_nonnull(ops->add_pin); /* both backends in the tree keep them */
    char team[CHAT_ID_SIZE], u[CHAT_ID_SIZE];
    new_id('T', team);
    new_id('U', u);
    test_chan t, other;
    init_chan(&t, team, CHAT_CHANNEL_PUBLIC, NULL);
    init_chan(&other, team, CHAT_CHANNEL_PUBLIC, NULL);
    create(&t, (const char (*)[CHAT_ID_SIZE])&u, 1);
    create(&other, (const char (*)[CHAT_ID_SIZE])&u, 1);
    chat_pin p;
    memset(&p, 0, sizeof p);
    memcpy(p.channel, t.c.id, CHAT_ID_SIZE);
    memcpy(p.user, u, CHAT_ID_SIZE);
    const char *ts[] = {"1732600000.000100", "1732600001.000200", "1732600002.000300"};
    for (int i = 0; i < 2; i++) {
        strcpy(p.ts, ts[i]);
        p.created = 1732600100 + i;
        ck_assert_chat_ok(ops->add_pin(impl, &p, 2));
    }
    ck_assert_int_eq(ops->add_pin(impl, &p, 5), CHAT_ERR_DUPLICATE);
    strcpy(p.ts, ts[2]);
    ck_assert_int_eq(ops->add_pin(impl, &p, 2), CHAT_ERR_TOO_MANY_PINS);
    memcpy(p.channel, other.c.id, CHAT_ID_SIZE); /* another channel's are its own */
    ck_assert_chat_ok(ops->add_pin(impl, &p, 2));

    chat_pin *got = NULL;
    size_t n = 0;
    ck_assert_chat_ok(ops->list_pins(impl, t.c.id, &got, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(got[0].ts, ts[1]); /* newest first */
    ck_assert_str_eq(got[0].user, u);
    ck_assert_str_eq(got[0].channel, t.c.id);
    ck_assert_int_eq(got[0].created, 1732600101);
    ck_assert_str_eq(got[1].ts, ts[0]);
    chat_free(got);

    ck_assert_chat_ok(ops->remove_pin(impl, t.c.id, ts[0]));
    ck_assert_int_eq(ops->remove_pin(impl, t.c.id, ts[0]), CHAT_ERR_NOT_FOUND);
    ck_assert_int_eq(ops->remove_pin(impl, t.c.id, ts[2]), CHAT_ERR_NOT_FOUND);
    ck_assert_chat_ok(ops->list_pins(impl, t.c.id, &got, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(got[0].ts, ts[1]);
    chat_free(got);
    char none[CHAT_ID_SIZE];
    new_id('C', none);
    ck_assert_chat_ok(ops->list_pins(impl, none, &got, &n));
    ck_assert_uint_eq(n, 0);
    chat_free(got);
}
END_TEST

/* Bookmarks: added, edited in place, at most max, oldest first, removed
 * once; an id is its channel's. */
static chat_bookmark make_bookmark(const char *id, const char *channel, const char *title,
                                   int64_t at)
{
    chat_bookmark b;
    memset(&b, 0, sizeof b);
    strcpy(b.id, id);
    memcpy(b.channel, channel, CHAT_ID_SIZE);
    b.title = (char *)title;
    b.link = (char *)"https://example.com/doc";
    strcpy(b.updated_by, "U1");
    b.created = b.updated = at;
    return b;
}

START_TEST(bookmarks)
{
    ck_assert_ptr_nonnull(ops->put_bookmark); /* both backends in the tree keep them */
    char team[CHAT_ID_SIZE], u[CHAT_ID_SIZE], b1[CHAT_ID_SIZE], b2[CHAT_ID_SIZE], b3[CHAT_ID_SIZE];
    new_id('T', team);
    new_id('U', u);
    new_id('B', b1);
    new_id('B', b2);
    new_id('B', b3);
    test_chan t, other;
    init_chan(&t, team, CHAT_CHANNEL_PUBLIC, NULL);
    init_chan(&other, team, CHAT_CHANNEL_PUBLIC, NULL);
    create(&t, (const char (*)[CHAT_ID_SIZE])&u, 1);
    create(&other, (const char (*)[CHAT_ID_SIZE])&u, 1);
    chat_bookmark b = make_bookmark(b1, t.c.id, "Design doc", 1700000100);
    b.emoji = (char *)":memo:";
    ck_assert_chat_ok(ops->put_bookmark(impl, &b, 2));
    b = make_bookmark(b2, t.c.id, "Runbook", 1700000200);
    ck_assert_chat_ok(ops->put_bookmark(impl, &b, 2));
    b = make_bookmark(b3, t.c.id, "Third", 1700000300);
    ck_assert_chat_err(ops->put_bookmark(impl, &b, 2), CHAT_ERR_TOO_MANY_BOOKMARKS);
    /* an edit is no new one: the limit does not apply */
    b = make_bookmark(b1, t.c.id, "Design doc v2", 1700000100);
    b.updated = 1700000400;
    strcpy(b.updated_by, "U2");
    ck_assert_chat_ok(ops->put_bookmark(impl, &b, 2));
    /* an id is its channel's */
    b = make_bookmark(b1, other.c.id, "Not here", 1700000500);
    ck_assert_chat_err(ops->put_bookmark(impl, &b, 5), CHAT_ERR_NOT_FOUND);

    chat_bookmark *got = NULL;
    size_t n = 0;
    ck_assert_chat_ok(ops->list_bookmarks(impl, t.c.id, &got, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(got[0].id, b1); /* oldest first */
    ck_assert_str_eq(got[0].title, "Design doc v2");
    ck_assert_str_eq(got[0].link, "https://example.com/doc");
    ck_assert_ptr_null(got[0].emoji); /* the edit gave none */
    ck_assert_str_eq(got[0].updated_by, "U2");
    ck_assert_int_eq(got[0].created, 1700000100);
    ck_assert_int_eq(got[0].updated, 1700000400);
    ck_assert_str_eq(got[0].channel, t.c.id);
    ck_assert_str_eq(got[1].id, b2);
    chat_bookmarks_free(got, n);
    ck_assert_chat_ok(ops->list_bookmarks(impl, other.c.id, &got, &n));
    ck_assert_uint_eq(n, 0);
    chat_bookmarks_free(got, n);

    ck_assert_chat_err(ops->remove_bookmark(impl, other.c.id, b1), CHAT_ERR_NOT_FOUND);
    ck_assert_chat_ok(ops->remove_bookmark(impl, t.c.id, b1));
    ck_assert_chat_err(ops->remove_bookmark(impl, t.c.id, b1), CHAT_ERR_NOT_FOUND);
    ck_assert_chat_ok(ops->list_bookmarks(impl, t.c.id, &got, &n));
    ck_assert_uint_eq(n, 1);
    chat_bookmarks_free(got, n);
}
END_TEST

START_TEST(concurrent_add_members)
{
    char team[CHAT_ID_SIZE];
    new_id('T', team);
    test_chan t;
    init_chan(&t, team, CHAT_CHANNEL_PUBLIC, NULL);
    create(&t, NULL, 0);
    void *second = NULL;
    ck_assert_chat_ok(ops->open(contract_url(), contract_cfg(), &second));

    static adder ad[ADDERS];
    pthread_t th[ADDERS];
    for (int i = 0; i < ADDERS; i++) {
        ad[i].h = i % 2 ? second : impl;
        ad[i].channel = t.c.id;
        for (int j = 0; j < PER_ADDER; j++)
            new_id('U', ad[i].users[j]);
        ck_assert_int_eq(pthread_create(&th[i], NULL, add_loop, &ad[i]), 0);
    }
    for (int i = 0; i < ADDERS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(ad[i].rv == CHAT_OK, "adder %d: %s", i, chat_err_name(ad[i].rv));
    }
    ops->close(second);

    chat_channel *got = NULL;
    ck_assert_chat_ok(ops->get(impl, t.c.id, &got));
    ck_assert_int_eq(got->member_count, ADDERS * PER_ADDER);
    chat_channel_free(got);
    chat_list *l = NULL;
    ck_assert_chat_ok(ops->list_members(impl, t.c.id, NULL, CHAT_MAX_PAGE, &l));
    ck_assert_uint_eq(chat_list_count(l), ADDERS * PER_ADDER);
    chat_list_free(l);
}
END_TEST

int main(int argc, char **argv)
{
    contract_init(argc, argv, "sqlite:{tmp}/channel.db");
    Suite *s = suite_create("channel_store");
    TCase *tc = tcase_create("contract");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, create_and_get);
    tcase_add_test(tc, name_taken_changes_nothing);
    tcase_add_test(tc, dm_key_unique);
    tcase_add_test(tc, update);
    tcase_add_test(tc, list_visibility);
    tcase_add_test(tc, list_pages);
    tcase_add_test(tc, list_for_member);
    tcase_add_test(tc, members);
    tcase_add_test(tc, members_missing_channel);
    tcase_add_test(tc, list_members_pages);
    tcase_add_test(tc, touch_activity);
    tcase_add_test(tc, concurrent_add_members);
    tcase_add_test(tc, pins);
    tcase_add_test(tc, bookmarks);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
