/*
 * Contract tests for chat_auth_store_ops: every auth store backend must pass.
 *
 * argv[1] is the store URL; "{tmp}" in it becomes a fresh directory per test
 * ("sqlite:{tmp}/auth.db"). A backend without a per-test database (say a
 * shared PostgreSQL) passes too: every test uses fresh random ids and emails.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/store.h>

#include "core/internal.h"
#include "contract.h"
#include "testutil.h"

static const chat_auth_store_ops *ops;
static void *impl;

/* The URL template with every "{tmp}" replaced by dir (a second database). */
static char *expand(const char *tmpl, const char *dir)
{
    size_t cap = strlen(tmpl) + 1;
    for (const char *p = strstr(tmpl, "{tmp}"); p != NULL; p = strstr(p + 5, "{tmp}"))
        cap += strlen(dir);
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    const char *p = tmpl;
    for (const char *q; (q = strstr(p, "{tmp}")) != NULL; p = q + 5) {
        strncat(out, p, (size_t)(q - p));
        strcat(out, dir);
    }
    strcat(out, p);
    return out;
}

static void *open_store(void)
{
    void *h = NULL;
    ck_assert_chat_ok(ops->open(contract_url(), contract_cfg(), &h));
    ck_assert_ptr_nonnull(h);
    return h;
}

static void setup(void)
{
    const char *url = contract_begin("auth");
    ops = chati_backend_find(CHATI_IFACE_AUTH, url);
    ck_assert_msg(ops != NULL, "no auth store for %s", url);
    ck_assert_uint_eq(ops->version, CHAT_STORE_V6); /* with apps, their events, views */
    impl = open_store();
}

static void teardown(void)
{
    ops->close(impl);
    impl = NULL;
    contract_end();
}

/* ---- helpers ---- */

static void new_id(char prefix, char out[CHAT_ID_SIZE])
{
    ck_assert_chat_ok(chati_id_new(prefix, out));
}

/* A credential with fresh ids and a fresh email "User-<id>@Example.COM". */
static chat_credential make_cred(char email[64])
{
    chat_credential c;
    memset(&c, 0, sizeof c);
    new_id('U', c.user_id);
    new_id('T', c.team_id);
    snprintf(email, 64, "User-%s@Example.COM", c.user_id);
    c.email = email;
    c.pwhash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
    c.token_gen = 1;
    c.active = true;
    c.is_admin = false;
    return c;
}

static char *lower(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return d;
}

/* ---- tests ---- */

START_TEST(create_and_get)
{
    char email[64];
    chat_credential c = make_cred(email);
    c.is_admin = true;
    c.token_gen = 7;
    ck_assert_chat_ok(ops->create(impl, &c));

    chat_credential *got = NULL;
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    ck_assert_str_eq(got->user_id, c.user_id);
    ck_assert_str_eq(got->team_id, c.team_id);
    char *lc = lower(email);
    ck_assert_str_eq(got->email, lc); /* stored lower-cased */
    ck_assert_str_eq(got->pwhash, c.pwhash);
    ck_assert_int_eq(got->token_gen, 7);
    ck_assert(got->active);
    ck_assert(got->is_admin);
    chat_credential_free(got);

    /* Lookup by email ignores case. */
    got = NULL;
    ck_assert_chat_ok(ops->get_by_email(impl, lc, &got));
    ck_assert_str_eq(got->user_id, c.user_id);
    chat_credential_free(got);
    got = NULL;
    ck_assert_chat_ok(ops->get_by_email(impl, email, &got));
    ck_assert_str_eq(got->user_id, c.user_id);
    chat_credential_free(got);
    free(lc);
}
END_TEST

START_TEST(not_found)
{
    char id[CHAT_ID_SIZE];
    new_id('U', id);
    chat_credential *got = NULL;
    ck_assert_chat_err(ops->get(impl, id, &got), CHAT_ERR_NOT_FOUND);
    ck_assert_ptr_null(got);
    ck_assert_chat_err(ops->get_by_email(impl, "nobody-here@example.com", &got),
                       CHAT_ERR_NOT_FOUND);
    ck_assert_ptr_null(got);
    int64_t gen = -1;
    ck_assert_chat_err(ops->set_password(impl, id, "$argon2id$x", &gen), CHAT_ERR_NOT_FOUND);
    ck_assert_chat_err(ops->bump_generation(impl, id, &gen), CHAT_ERR_NOT_FOUND);
    ck_assert_int_eq(gen, -1); /* outputs untouched on failure */
    ck_assert_chat_err(ops->set_active(impl, id, false), CHAT_ERR_NOT_FOUND);
}
END_TEST

START_TEST(email_taken_changes_nothing)
{
    char e1[64], e2[64];
    chat_credential a = make_cred(e1);
    ck_assert_chat_ok(ops->create(impl, &a));

    /* Same address in another case, for another user. */
    chat_credential b = make_cred(e2);
    char *lc = lower(e1);
    b.email = lc;
    ck_assert_chat_err(ops->create(impl, &b), CHAT_ERR_EMAIL_TAKEN);
    chat_credential *got = NULL;
    ck_assert_chat_err(ops->get(impl, b.user_id, &got), CHAT_ERR_NOT_FOUND);
    ck_assert_chat_ok(ops->get_by_email(impl, e1, &got));
    ck_assert_str_eq(got->user_id, a.user_id);
    chat_credential_free(got);
    free(lc);

    /* The same user id twice is a plain duplicate. */
    chat_credential c = make_cred(e2);
    memcpy(c.user_id, a.user_id, CHAT_ID_SIZE);
    ck_assert_chat_err(ops->create(impl, &c), CHAT_ERR_DUPLICATE);
    ck_assert_chat_err(ops->get_by_email(impl, e2, &got), CHAT_ERR_NOT_FOUND);
}
END_TEST

START_TEST(bad_arguments)
{
    char email[64];
    chat_credential c = make_cred(email);
    c.email = NULL;
    ck_assert_chat_err(ops->create(impl, &c), CHAT_ERR_INVALID_ARGUMENTS);
    c.email = "";
    ck_assert_chat_err(ops->create(impl, &c), CHAT_ERR_INVALID_ARGUMENTS);
    c = make_cred(email);
    c.user_id[0] = '\0';
    ck_assert_chat_err(ops->create(impl, &c), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(ops->create(impl, NULL), CHAT_ERR_INVALID_ARGUMENTS);
}
END_TEST

START_TEST(password_bumps_generation)
{
    char email[64];
    chat_credential c = make_cred(email);
    c.token_gen = 3;
    ck_assert_chat_ok(ops->create(impl, &c));

    int64_t gen = 0;
    ck_assert_chat_ok(ops->set_password(impl, c.user_id, "$argon2id$new", &gen));
    ck_assert_int_eq(gen, 4);
    ck_assert_chat_ok(ops->set_password(impl, c.user_id, "$argon2id$newer", NULL));

    chat_credential *got = NULL;
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    ck_assert_str_eq(got->pwhash, "$argon2id$newer");
    ck_assert_int_eq(got->token_gen, 5);
    chat_credential_free(got);
}
END_TEST

START_TEST(bump_generation)
{
    char email[64];
    chat_credential c = make_cred(email);
    ck_assert_chat_ok(ops->create(impl, &c));
    int64_t prev = c.token_gen;
    for (int i = 0; i < 5; i++) {
        int64_t gen = 0;
        ck_assert_chat_ok(ops->bump_generation(impl, c.user_id, &gen));
        ck_assert_int_eq(gen, prev + 1);
        prev = gen;
    }
    chat_credential *got = NULL;
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    ck_assert_int_eq(got->token_gen, prev);
    ck_assert_str_eq(got->pwhash, c.pwhash); /* only the generation moved */
    chat_credential_free(got);

    /* Another user's generation is untouched. */
    char e2[64];
    chat_credential other = make_cred(e2);
    ck_assert_chat_ok(ops->create(impl, &other));
    ck_assert_chat_ok(ops->bump_generation(impl, c.user_id, NULL));
    ck_assert_chat_ok(ops->get(impl, other.user_id, &got));
    ck_assert_int_eq(got->token_gen, other.token_gen);
    chat_credential_free(got);
}
END_TEST

START_TEST(set_active)
{
    char email[64];
    chat_credential c = make_cred(email);
    ck_assert_chat_ok(ops->create(impl, &c));
    chat_credential *got = NULL;

    ck_assert_chat_ok(ops->set_active(impl, c.user_id, false));
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    ck_assert(!got->active);
    chat_credential_free(got);

    /* Idempotent, and reversible. */
    ck_assert_chat_ok(ops->set_active(impl, c.user_id, false));
    ck_assert_chat_ok(ops->set_active(impl, c.user_id, true));
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    ck_assert(got->active);
    chat_credential_free(got);
}
END_TEST

START_TEST(remove_frees_the_email)
{
    char email[64];
    chat_credential c = make_cred(email);
    ck_assert_chat_ok(ops->create(impl, &c));
    ck_assert_chat_ok(ops->remove(impl, c.user_id));
    chat_credential *got = NULL;
    ck_assert_chat_err(ops->get(impl, c.user_id, &got), CHAT_ERR_NOT_FOUND);
    ck_assert_chat_err(ops->get_by_email(impl, email, &got), CHAT_ERR_NOT_FOUND);
    ck_assert_chat_err(ops->remove(impl, c.user_id), CHAT_ERR_NOT_FOUND);
    /* The address can be registered again. */
    ck_assert_chat_ok(ops->create(impl, &c));
}
END_TEST

START_TEST(reopen_keeps_data)
{
    char email[64];
    chat_credential c = make_cred(email);
    ck_assert_chat_ok(ops->create(impl, &c));
    ck_assert_chat_ok(ops->bump_generation(impl, c.user_id, NULL));

    /* A second handle sees the first one's writes at once... */
    void *second = open_store();
    chat_credential *got = NULL;
    ck_assert_chat_ok(ops->get(second, c.user_id, &got));
    ck_assert_int_eq(got->token_gen, c.token_gen + 1);
    chat_credential_free(got);
    ck_assert_chat_ok(ops->bump_generation(second, c.user_id, NULL));
    ops->close(second);

    /* ...and the first sees the second's; reopening migrates nothing twice. */
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    ck_assert_int_eq(got->token_gen, c.token_gen + 2);
    chat_credential_free(got);
    ops->close(impl);
    impl = open_store();
    ck_assert_chat_ok(ops->get(impl, c.user_id, &got));
    ck_assert_int_eq(got->token_gen, c.token_gen + 2);
    chat_credential_free(got);
}
END_TEST

/* An app of team T with fresh ids; its strings are static. */
static chat_app make_app(const char *team)
{
    chat_app a;
    memset(&a, 0, sizeof a);
    new_id('A', a.id);
    new_id('U', a.bot_user_id);
    new_id('B', a.bot_id);
    new_id('U', a.creator);
    strcpy(a.team_id, team);
    a.name = "Deploy Bot";
    a.signing_secret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    a.scopes = "chat:write,channels:read";
    a.manifest = "{\"display_information\":{\"name\":\"Deploy Bot \\u00e9\"}}";
    a.created = 1700000000;
    a.token_gen = 1;
    a.active = true;
    return a;
}

static void assert_app_eq(const chat_app *got, const chat_app *want)
{
    ck_assert_str_eq(got->id, want->id);
    ck_assert_str_eq(got->team_id, want->team_id);
    ck_assert_str_eq(got->bot_user_id, want->bot_user_id);
    ck_assert_str_eq(got->bot_id, want->bot_id);
    ck_assert_str_eq(got->creator, want->creator);
    ck_assert_str_eq(got->name, want->name);
    ck_assert_str_eq(got->signing_secret, want->signing_secret);
    ck_assert_str_eq(got->scopes, want->scopes);
    ck_assert_str_eq(got->manifest, want->manifest);
    ck_assert_int_eq(got->created, want->created);
    ck_assert_int_eq(got->token_gen, want->token_gen);
    ck_assert(got->active == want->active);
}

START_TEST(apps)
{
    /* Optional in the interface; both backends in the tree keep apps. */
    ck_assert_ptr_nonnull(ops->create_app);
    char team[CHAT_ID_SIZE], other[CHAT_ID_SIZE];
    new_id('T', team);
    new_id('T', other);
    chat_app a = make_app(team), b = make_app(team), c = make_app(other);
    ck_assert_chat_ok(ops->create_app(impl, &a));
    ck_assert_chat_ok(ops->create_app(impl, &b));
    ck_assert_chat_ok(ops->create_app(impl, &c));

    /* by app id and by bot id */
    chat_app *got = NULL;
    ck_assert_chat_ok(ops->get_app(impl, a.id, &got));
    assert_app_eq(got, &a);
    chat_app_free(got);
    ck_assert_chat_ok(ops->get_app(impl, b.bot_id, &got));
    assert_app_eq(got, &b);
    chat_app_free(got);
    ck_assert(chati_not_found(ops->get_app(impl, "ANOSUCHAPP", &got)));
    ck_assert(chati_not_found(ops->get_app(impl, "BNOSUCHBOT", &got)));

    /* a team's apps, by id */
    chat_app **list = NULL;
    size_t n = 0;
    ck_assert_chat_ok(ops->list_apps(impl, team, &list, &n));
    ck_assert_uint_eq(n, 2);
    const chat_app *first = strcmp(a.id, b.id) < 0 ? &a : &b;
    assert_app_eq(list[0], first);
    for (size_t i = 0; i < n; i++)
        chat_app_free(list[i]);
    chat_free(list);
    ck_assert_chat_ok(ops->list_apps(impl, "TNOSUCHTEAM", &list, &n));
    ck_assert_uint_eq(n, 0);
    chat_free(list);

    /* ids, bot ids and bot users are unique */
    chat_app d = make_app(team);
    memcpy(d.bot_id, a.bot_id, CHAT_ID_SIZE);
    ck_assert_int_eq(ops->create_app(impl, &d), CHAT_ERR_DUPLICATE);
    d = make_app(team);
    memcpy(d.bot_user_id, a.bot_user_id, CHAT_ID_SIZE);
    ck_assert_int_eq(ops->create_app(impl, &d), CHAT_ERR_DUPLICATE);
    d = make_app(team);
    memcpy(d.id, a.id, CHAT_ID_SIZE);
    ck_assert_int_eq(ops->create_app(impl, &d), CHAT_ERR_DUPLICATE);
    d = make_app(team);
    d.name = NULL;
    ck_assert_int_eq(ops->create_app(impl, &d), CHAT_ERR_INVALID_ARGUMENTS);

    /* revoking bumps the generation, the rest stays; an inactive app reads so */
    int64_t gen = 0;
    ck_assert_chat_ok(ops->bump_app_generation(impl, a.id, &gen));
    ck_assert_int_eq(gen, 2);
    ck_assert_chat_ok(ops->bump_app_generation(impl, a.id, &gen));
    ck_assert_int_eq(gen, 3);
    ck_assert_chat_ok(ops->get_app(impl, a.bot_id, &got));
    a.token_gen = 3;
    assert_app_eq(got, &a);
    chat_app_free(got);
    ck_assert(chati_not_found(ops->bump_app_generation(impl, "ANOSUCHAPP", &gen)));
    chat_app e = make_app(team);
    e.active = false;
    e.token_gen = 7;
    ck_assert_chat_ok(ops->create_app(impl, &e));
    ck_assert_chat_ok(ops->get_app(impl, e.id, &got));
    assert_app_eq(got, &e);
    chat_app_free(got);

    /* and kept across a reopen */
    ops->close(impl);
    impl = open_store();
    ck_assert_chat_ok(ops->get_app(impl, c.id, &got));
    assert_app_eq(got, &c);
    chat_app_free(got);
}
END_TEST

static chat_app_event make_event(const char *app, const char *event_id, int kind,
                                 int64_t created_ms, const char *data)
{
    chat_app_event e;
    memset(&e, 0, sizeof e);
    snprintf(e.app_id, sizeof e.app_id, "%s", app);
    snprintf(e.event_id, sizeof e.event_id, "%s", event_id);
    e.kind = kind;
    e.created_ms = created_ms;
    e.data = (void *)data;
    e.len = strlen(data) + 1; /* the NUL too: bytes, not text */
    if (strcmp(data, "two") == 0)
        e.len = 6; /* "two\0x\0": past a NUL */
    return e;
}

static void lease(const char *app, int64_t now, int64_t lease_ms, int64_t after, size_t max,
                  chat_app_event **out, size_t *n)
{
    ck_assert_chat_ok(ops->lease_app_events(impl, app, now, lease_ms, 3, after, max, out, n));
}

START_TEST(app_events)
{
    ck_assert_ptr_nonnull(ops->queue_app_events); /* both backends in the tree keep them */
    char app[CHAT_ID_SIZE], other[CHAT_ID_SIZE];
    new_id('A', app);
    new_id('A', other);
    const int64_t t0 = 1700000000000;
    chat_app_event evs[] = {
        make_event(app, "E1", 0, t0, "one"),      make_event(app, "E1", 1, t0, "one, mention"),
        make_event(other, "E1", 0, t0, "theirs"), make_event(app, "E2", 0, t0, "two\0x"),
        make_event(app, "E1", 0, t0, "again"), /* the broker's redelivery: skipped */
    };
    ck_assert_chat_ok(ops->queue_app_events(impl, evs, 5));
    ck_assert_chat_ok(ops->queue_app_events(impl, evs, 2)); /* all queued already */

    /* oldest first, the app's own, bytes as given, an attempt counted */
    chat_app_event *got = NULL;
    size_t n = 0;
    lease(app, t0, 1000, 0, 2, &got, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(got[0].event_id, "E1");
    ck_assert_int_eq(got[0].kind, 0);
    ck_assert_str_eq(got[0].app_id, app);
    ck_assert_uint_eq(got[0].len, 4);
    ck_assert_mem_eq(got[0].data, "one", 4);
    ck_assert_int_eq(got[0].attempts, 1);
    ck_assert_int_eq(got[0].created_ms, t0);
    ck_assert_int_eq(got[1].kind, 1);
    ck_assert(got[0].seq < got[1].seq);
    int64_t first = got[0].seq, mention = got[1].seq;
    chat_app_events_free(got, n);

    /* leased ones wait for their lease to run out */
    lease(app, t0 + 10, 1000, 0, 10, &got, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(got[0].event_id, "E2");
    ck_assert_uint_eq(got[0].len, 6);
    ck_assert_mem_eq(got[0].data, "two\0x", 6);
    int64_t second = got[0].seq;
    chat_app_events_free(got, n);
    lease(app, t0 + 20, 1000, 0, 10, &got, &n);
    ck_assert_uint_eq(n, 0);
    chat_free(got);

    /* acknowledged: never again, and not queued again either */
    ck_assert_chat_ok(ops->ack_app_events(impl, app, &first, 1));
    int64_t unknown = 999999999;
    ck_assert_chat_ok(ops->ack_app_events(impl, app, &unknown, 1));
    ck_assert_chat_ok(ops->ack_app_events(impl, other, &mention, 1)); /* not theirs */
    ck_assert_chat_ok(ops->queue_app_events(impl, evs, 1));

    /* a lease that ran out: leased again, attempts counted */
    lease(app, t0 + 1500, 1000, 0, 10, &got, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(got[0].seq, mention);
    ck_assert_int_eq(got[0].attempts, 2);
    ck_assert_int_eq(got[1].seq, second);
    chat_app_events_free(got, n);
    lease(app, t0 + 3000, 1000, 0, 10, &got, &n); /* third attempt, the last of 3 */
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(got[0].attempts, 3);
    chat_app_events_free(got, n);
    ck_assert_chat_ok(ops->ack_app_events(impl, app, &second, 1));
    lease(app, t0 + 4500, 1000, 0, 10, &got, &n); /* the mention ran out of attempts */
    ck_assert_uint_eq(n, 0);
    chat_free(got);

    /* the other app's is untouched; too old is dropped, acknowledged or not */
    lease(other, t0, 1000, t0 + 1, 10, &got, &n);
    ck_assert_uint_eq(n, 0);
    chat_free(got);
    ck_assert_chat_ok(ops->queue_app_events(impl, evs + 2, 1)); /* dropped: queued anew */
    lease(other, t0, 1000, 0, 10, &got, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_mem_eq(got[0].data, "theirs", 7);
    chat_app_events_free(got, n);

    /* which apps have events due: the other's (just queued), not app's */
    char(*due)[CHAT_ID_SIZE] = NULL;
    ck_assert_chat_ok(ops->due_apps(impl, t0 + 1000000, 100000, &due, &n));
    bool saw_other = false, saw_app = false;
    for (size_t i = 0; i < n; i++) {
        saw_other = saw_other || strcmp(due[i], other) == 0;
        saw_app = saw_app || strcmp(due[i], app) == 0;
    }
    chat_free(due);
    ck_assert(saw_other && !saw_app);
    chat_app_event e3 = make_event(app, "E3", 0, t0, "three");
    ck_assert_chat_ok(ops->queue_app_events(impl, &e3, 1));
    ck_assert_chat_ok(ops->due_apps(impl, t0 + 1000000, 100000, &due, &n));
    saw_other = saw_app = false; /* (a shared database may hold others' too) */
    for (size_t i = 0; i < n; i++) {
        saw_other = saw_other || strcmp(due[i], other) == 0;
        saw_app = saw_app || strcmp(due[i], app) == 0;
    }
    chat_free(due);
    ck_assert(saw_other && saw_app);
    ck_assert_chat_ok(ops->due_apps(impl, t0 + 1000000, 1, &due, &n));
    ck_assert_uint_eq(n, 1); /* at most max */
    chat_free(due);

    /* bad arguments */
    chat_app_event bad = make_event("", "E9", 0, t0, "x");
    ck_assert_int_eq(ops->queue_app_events(impl, &bad, 1), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_int_eq(ops->lease_app_events(impl, app, t0, 0, 3, 0, 10, &got, &n),
                     CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_int_eq(ops->lease_app_events(impl, app, t0, 10, 3, 0, 0, &got, &n),
                     CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_ok(ops->queue_app_events(impl, NULL, 0));
    ck_assert_chat_ok(ops->ack_app_events(impl, app, NULL, 0));
}
END_TEST

/* Several processes (here: handles on threads) opening a new database at the
 * same moment must all succeed: the migrations run exactly once. */
#define OPENERS 6

static pthread_barrier_t open_barrier;

static void *opener(void *arg)
{
    const char *u = arg;
    pthread_barrier_wait(&open_barrier);
    void *h = NULL;
    chat_err rv = ops->open(u, contract_cfg(), &h);
    if (rv == CHAT_OK) {
        char email[64];
        chat_credential c = make_cred(email);
        rv = ops->create(h, &c);
        ops->close(h);
    }
    return (void *)(intptr_t)rv;
}

/* A view: stored as given, found by id or external id; a trigger and an
 * external id are each used once per app; an update may require the hash
 * it saw; a closed view gives up its external id. */
static chat_view make_view(const char *app, const char *user, const char *trigger,
                           const char *external_id, const char *body)
{
    chat_view v;
    memset(&v, 0, sizeof v);
    new_id('V', v.id);
    new_id('T', v.team_id);
    memcpy(v.app_id, app, CHAT_ID_SIZE);
    memcpy(v.user_id, user, CHAT_ID_SIZE);
    memcpy(v.root_id, v.id, CHAT_ID_SIZE);
    strcpy(v.hash, "1.aa");
    v.trigger = (char *)trigger;
    v.external_id = (char *)external_id;
    v.body = (char *)body;
    v.depth = 1;
    v.updated_ms = 1700000000000;
    v.open = true;
    return v;
}

START_TEST(views)
{
    ck_assert_ptr_nonnull(ops->create_view); /* both backends in the tree keep them */
    char app[CHAT_ID_SIZE], other[CHAT_ID_SIZE], user[CHAT_ID_SIZE];
    new_id('A', app);
    new_id('A', other);
    new_id('U', user);
    chat_view a = make_view(app, user, "1.t1", "ext-1", "{\"type\":\"modal\"}");
    ck_assert_chat_ok(ops->create_view(impl, &a));
    chat_view *got = NULL;
    ck_assert_chat_ok(ops->get_view(impl, a.id, NULL, NULL, &got));
    ck_assert_str_eq(got->id, a.id);
    ck_assert_str_eq(got->team_id, a.team_id);
    ck_assert_str_eq(got->app_id, app);
    ck_assert_str_eq(got->user_id, user);
    ck_assert_str_eq(got->root_id, a.id);
    ck_assert_str_eq(got->previous_id, "");
    ck_assert_str_eq(got->hash, "1.aa");
    ck_assert_str_eq(got->trigger, "1.t1");
    ck_assert_str_eq(got->external_id, "ext-1");
    ck_assert_str_eq(got->body, "{\"type\":\"modal\"}");
    ck_assert_ptr_null(got->values);
    ck_assert_int_eq(got->depth, 1);
    ck_assert_int_eq(got->updated_ms, 1700000000000);
    ck_assert(got->open);
    chat_view_free(got);
    got = NULL;
    ck_assert_chat_ok(ops->get_view(impl, NULL, app, "ext-1", &got));
    ck_assert_str_eq(got->id, a.id);
    chat_view_free(got);
    got = NULL;
    ck_assert_int_eq(ops->get_view(impl, NULL, other, "ext-1", &got), CHAT_ERR_NOT_FOUND);
    char missing[CHAT_ID_SIZE];
    new_id('V', missing);
    ck_assert_int_eq(ops->get_view(impl, missing, NULL, NULL, &got), CHAT_ERR_NOT_FOUND);

    /* a trigger once per app, an external id once per app; another app's are its own */
    chat_view b = make_view(app, user, "1.t1", NULL, "{}");
    ck_assert_int_eq(ops->create_view(impl, &b), CHAT_ERR_DUPLICATE);
    b = make_view(app, user, "1.t2", "ext-1", "{}");
    ck_assert_int_eq(ops->create_view(impl, &b), CHAT_ERR_DUPLICATE);
    b = make_view(other, user, "1.t1", "ext-1", "{}");
    ck_assert_chat_ok(ops->create_view(impl, &b));
    chat_view c = make_view(app, user, NULL, NULL, "{}"); /* no trigger, no external id: twice */
    ck_assert_chat_ok(ops->create_view(impl, &c));
    c = make_view(app, user, NULL, NULL, "{}");
    ck_assert_chat_ok(ops->create_view(impl, &c));

    /* an update with the hash seen, or none; another hash conflicts */
    a.body = "{\"type\":\"modal\",\"n\":2}";
    a.values = "{\"b\":{}}";
    strcpy(a.hash, "2.bb");
    a.updated_ms += 5;
    ck_assert_chat_ok(ops->update_view(impl, &a, "1.aa"));
    strcpy(a.hash, "3.cc");
    ck_assert_int_eq(ops->update_view(impl, &a, "1.aa"), CHAT_ERR_HASH_CONFLICT);
    chat_view gone = make_view(app, user, NULL, NULL, "{}");
    ck_assert_int_eq(ops->update_view(impl, &gone, NULL), CHAT_ERR_NOT_FOUND);
    ck_assert_chat_ok(ops->get_view(impl, a.id, NULL, NULL, &got));
    ck_assert_str_eq(got->hash, "2.bb");
    ck_assert_str_eq(got->body, "{\"type\":\"modal\",\"n\":2}");
    ck_assert_str_eq(got->values, "{\"b\":{}}");
    ck_assert_int_eq(got->updated_ms, 1700000000005);
    ck_assert_str_eq(got->trigger, "1.t1"); /* kept: the trigger stays used */
    chat_view_free(got);
    got = NULL;

    /* closed, its external id is free again */
    a.open = false;
    a.external_id = NULL;
    ck_assert_chat_ok(ops->update_view(impl, &a, NULL));
    b = make_view(app, user, "1.t3", "ext-1", "{}");
    ck_assert_chat_ok(ops->create_view(impl, &b));
    ck_assert_chat_ok(ops->get_view(impl, a.id, NULL, NULL, &got));
    ck_assert(!got->open);
    ck_assert_ptr_null(got->external_id);
    chat_view_free(got);
    got = NULL;

    /* dropped by age, but for an open App Home view (no trigger, no previous) */
    chat_view home = make_view(app, user, NULL, NULL, "{\"type\":\"home\"}");
    ck_assert_chat_ok(ops->create_view(impl, &home));
    ck_assert_chat_ok(ops->drop_views(impl, 1700000000001));
    ck_assert_chat_ok(ops->get_view(impl, home.id, NULL, NULL, &got));
    chat_view_free(got);
    got = NULL;
    ck_assert_int_eq(ops->get_view(impl, b.id, NULL, NULL, &got), CHAT_ERR_NOT_FOUND);
    ck_assert_chat_ok(ops->get_view(impl, a.id, NULL, NULL, &got));
    chat_view_free(got);
}
END_TEST

START_TEST(concurrent_first_open)
{
    const char *dir = contract_tmpdir();
    char *sub = malloc(strlen(dir) + 16);
    snprintf(sub, strlen(dir) + 16, "%s/fresh", dir);
    char *u = expand(contract_template(), sub);
    free(sub);

    pthread_t th[OPENERS];
    pthread_barrier_init(&open_barrier, NULL, OPENERS);
    for (int i = 0; i < OPENERS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, opener, u), 0);
    for (int i = 0; i < OPENERS; i++) {
        void *res = NULL;
        pthread_join(th[i], &res);
        chat_err rv = (chat_err)(intptr_t)res;
        ck_assert_msg(rv == CHAT_OK, "opener %d: %s", i, chat_err_name(rv));
    }
    pthread_barrier_destroy(&open_barrier);
    free(u);
}
END_TEST

int main(int argc, char **argv)
{
    contract_init(argc, argv, "sqlite:{tmp}/auth.db");
    Suite *s = suite_create("auth_store");
    TCase *tc = tcase_create("contract");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, create_and_get);
    tcase_add_test(tc, not_found);
    tcase_add_test(tc, email_taken_changes_nothing);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, password_bumps_generation);
    tcase_add_test(tc, bump_generation);
    tcase_add_test(tc, set_active);
    tcase_add_test(tc, remove_frees_the_email);
    tcase_add_test(tc, reopen_keeps_data);
    tcase_add_test(tc, concurrent_first_open);
    tcase_add_test(tc, apps);
    tcase_add_test(tc, app_events);
    tcase_add_test(tc, views);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
