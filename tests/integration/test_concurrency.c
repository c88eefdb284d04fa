/* Concurrency: several threads posting (with idempotent retries), editing,
 * deleting, reacting and marking read in one channel while a reader watches;
 * afterwards ordering, counts, reactions and unread/mention counters must be
 * exactly what the operations imply. */
#include "fixture.h"

#include <pthread.h>
#include <stdarg.h>

#define WRITERS 4
#define POSTS 500
#define SHARED 10
#define NAMES 3

static chat_ctx *ctx;
static char *dir;
static person P[WRITERS];
static person watcher;
static char *chan;
static char shared_ts[SHARED][CHAT_TS_SIZE];
static const char *const names[NAMES] = {"thumbsup", "tada", "eyes"};

/* What one writer did, and so what must be stored. */
typedef struct writer {
    int i;
    char ts[POSTS][CHAT_TS_SIZE];
    char *final_text[POSTS];
    bool edited[POSTS];
    bool deleted[POSTS];
    char mark[CHAT_TS_SIZE];
    int posts, retries, edits, deletes, reactions;
    char err[512];
} writer;

static writer W[WRITERS];

typedef struct reader_state {
    pthread_mutex_t mu;
    bool stop;
    int rounds;
    char err[512];
} reader_state;

static reader_state R = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* A barrier the writers meet at after each read mark, so that every writer's
 * last mark is followed by everyone else's posts. A failing writer opens it
 * for good so that nobody waits for it. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count, gen;
    bool open;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, false};

static void gate_wait(void)
{
    pthread_mutex_lock(&gate.mu);
    int g = gate.gen;
    if (++gate.count == WRITERS) {
        gate.count = 0;
        gate.gen++;
        pthread_cond_broadcast(&gate.cv);
    }
    while (gate.gen == g && !gate.open)
        pthread_cond_wait(&gate.cv, &gate.mu);
    pthread_mutex_unlock(&gate.mu);
}

static void gate_open(void)
{
    pthread_mutex_lock(&gate.mu);
    gate.open = true;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
}

static void note_fail(char *err, size_t len, const char *fmt, ...)
{
    if (err[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

#define TRY(w, expr, want)                                                              \
    do {                                                                                \
        chat_err rv_ = (expr);                                                          \
        if (rv_ != (want)) {                                                            \
            note_fail((w)->err, sizeof (w)->err, "line %d: %s -> %s, wanted %s (%s)",        \
                 __LINE__, #expr, chat_err_name(rv_), chat_err_name(want),              \
                 chat_last_errmsg());                                                     \
            goto out;                                                                   \
        }                                                                               \
    } while (0)

static bool edited_at(int j)
{
    return j % 5 == 0 && j + 3 < POSTS; /* edited at step j + 3 */
}

static bool deleted_at(int j)
{
    return (j % 25 == 22) || (j % 50 == 40); /* at step j + 2 / j + 9 */
}

static char *original_text(int i, int k)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "t%d m%d", i, k);
    if (k % 7 == 0)
        n += snprintf(buf + n, sizeof buf - n, " hey <@%s>", P[(i + 1) % WRITERS].id);
    if (k % 50 == 6)
        n += snprintf(buf + n, sizeof buf - n, " <!channel>");
    if (k % 50 == 10)
        n += snprintf(buf + n, sizeof buf - n, " <!everyone> (edited away later)");
    if (k % 60 == 11)
        n += snprintf(buf + n, sizeof buf - n, " <!here>");
    return strdup(buf);
}

static char *edited_text(int i, int j)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "t%d m%d edited", i, j);
    if (j % 15 == 0)
        snprintf(buf + n, sizeof buf - n, " now <@%s>", P[(i + 2) % WRITERS].id);
    return strdup(buf);
}

static void *writer_main(void *arg)
{
    writer *w = arg;
    const int i = w->i;
    const chat_session *s = P[i].s;
    chat_message *m = NULL;
    for (int k = 0; k < POSTS; k++) {
        char cmid[32];
        /* A delayed retry of the previous post (as after a lost response). */
        if (k > 0 && (k - 1) % 10 == 7) {
            snprintf(cmid, sizeof cmid, "t%d-%d", i, k - 1);
            TRY(w, chat_message_post(ctx, s, chan, w->final_text[k - 1], NULL, cmid, 0, &m),
                CHAT_OK);
            if (strcmp(chat_message_ts(m), w->ts[k - 1]) != 0) {
                note_fail(w->err, sizeof w->err, "retry of %s gave %s, first %s", cmid,
                     chat_message_ts(m), w->ts[k - 1]);
                goto out;
            }
            chat_message_free(m);
            m = NULL;
            w->retries++;
        }

        snprintf(cmid, sizeof cmid, "t%d-%d", i, k);
        w->final_text[k] = original_text(i, k);
        TRY(w, chat_message_post(ctx, s, chan, w->final_text[k], NULL, cmid, 0, &m), CHAT_OK);
        snprintf(w->ts[k], CHAT_TS_SIZE, "%s", chat_message_ts(m));
        chat_message_free(m);
        m = NULL;
        w->posts++;
        if (k % 10 == 3) { /* an immediate retry */
            TRY(w, chat_message_post(ctx, s, chan, w->final_text[k], NULL, cmid, 0, &m),
                CHAT_OK);
            if (strcmp(chat_message_ts(m), w->ts[k]) != 0) {
                note_fail(w->err, sizeof w->err, "retry of %s gave %s, first %s", cmid,
                     chat_message_ts(m), w->ts[k]);
                goto out;
            }
            chat_message_free(m);
            m = NULL;
            w->retries++;
        }

        /* Edit an own message posted three steps ago. */
        if (k >= 3 && edited_at(k - 3)) {
            int j = k - 3;
            char *t = edited_text(i, j);
            TRY(w, chat_message_update(ctx, s, chan, w->ts[j], t, &m), CHAT_OK);
            if (strcmp(chat_message_text(m), t) != 0 || chat_message_edited_ts(m)[0] == '\0') {
                note_fail(w->err, sizeof w->err, "edit of %s returned \"%s\"", w->ts[j],
                     chat_message_text(m));
                free(t);
                goto out;
            }
            chat_message_free(m);
            m = NULL;
            free(w->final_text[j]);
            w->final_text[j] = t;
            w->edited[j] = true;
            w->edits++;
        }
        /* Delete own messages (some of them edited before). */
        if (k % 25 == 24) {
            TRY(w, chat_message_delete(ctx, s, chan, w->ts[k - 2]), CHAT_OK);
            w->deleted[k - 2] = true;
            w->deletes++;
        }
        if (k % 50 == 49) {
            TRY(w, chat_message_delete(ctx, s, chan, w->ts[k - 9]), CHAT_OK);
            w->deleted[k - 9] = true;
            w->deletes++;
            /* Deleting twice is an error, not a second deletion. */
            TRY(w, chat_message_delete(ctx, s, chan, w->ts[k - 9]), CHAT_ERR_MESSAGE_NOT_FOUND);
        }
        /* Reactions on the shared messages: everyone adds each (message, name)
         * at the same point, some take theirs back a little later. */
        if (k % 16 == 0 && k / 16 < SHARED * NAMES) {
            int p = k / 16, sm = p / NAMES, n = p % NAMES;
            TRY(w, chat_reaction_add(ctx, s, chan, shared_ts[sm], names[n]), CHAT_OK);
            TRY(w, chat_reaction_add(ctx, s, chan, shared_ts[sm], names[n]),
                CHAT_ERR_ALREADY_REACTED);
            w->reactions++;
        }
        if (k % 16 == 8 && k / 16 < SHARED * NAMES) {
            int p = k / 16, sm = p / NAMES, n = p % NAMES;
            if ((i + sm + n) % 3 == 0) {
                TRY(w, chat_reaction_remove(ctx, s, chan, shared_ts[sm], names[n]), CHAT_OK);
                TRY(w, chat_reaction_remove(ctx, s, chan, shared_ts[sm], names[n]),
                    CHAT_ERR_NO_REACTION);
                w->reactions++;
            }
        }
        /* Mark read up to the own message just posted. */
        if (k % 50 == 25) {
            TRY(w, chat_channel_mark(ctx, s, chan, w->ts[k]), CHAT_OK);
            snprintf(w->mark, sizeof w->mark, "%s", w->ts[k]);
            gate_wait();
        }
        /* Nobody edits someone else's message. */
        if (k == 100 && i != 0)
            TRY(w, chat_message_update(ctx, s, chan, shared_ts[0], "mine now", NULL),
                CHAT_ERR_CANT_UPDATE_MESSAGE);
    }
out:
    if (w->err[0])
        gate_open();
    chat_message_free(m);
    return NULL;
}

/* Reads while the writers write: every page must be strictly newest first. */
static void *reader_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&R.mu);
        bool stop = R.stop;
        pthread_mutex_unlock(&R.mu);
        if (stop)
            break;
        chat_list *l = NULL;
        chat_err rv = chat_message_history(ctx, watcher.s, chan, NULL, NULL, false, 200, NULL, &l);
        if (rv != CHAT_OK) {
            note_fail(R.err, sizeof R.err, "history -> %s", chat_err_name(rv));
            break;
        }
        for (size_t j = 1; j < chat_list_count(l); j++) {
            const char *newer = chat_message_ts(chat_list_message(l, j - 1));
            const char *older = chat_message_ts(chat_list_message(l, j));
            if (strcmp(newer, older) <= 0) {
                note_fail(R.err, sizeof R.err, "history page out of order: %s then %s", newer,
                     older);
                break;
            }
        }
        chat_list_free(l);
        chat_channel *c = NULL;
        rv = chat_channel_info(ctx, watcher.s, chan, &c);
        if (rv != CHAT_OK) {
            note_fail(R.err, sizeof R.err, "info -> %s", chat_err_name(rv));
            break;
        }
        if (chat_channel_unread_count(c) < 0 || chat_channel_mention_count(c) < 0)
            note_fail(R.err, sizeof R.err, "negative counts");
        chat_channel_free(c);
        R.rounds++;
    }
    return NULL;
}

static void setup(void)
{
    ctx = fixture_open(&dir, NULL);
    for (int i = 0; i < WRITERS; i++) {
        char email[64];
        snprintf(email, sizeof email, "w%d@example.com", i);
        P[i] = fixture_person(ctx, email);
    }
    watcher = fixture_person(ctx, "watcher@example.com");
    chan = fixture_channel(ctx, &P[0], "hammer", false);
    for (int i = 1; i < WRITERS; i++)
        ck_assert_chat_ok(chat_channel_join(ctx, P[i].s, chan, NULL));
    ck_assert_chat_ok(chat_channel_join(ctx, watcher.s, chan, NULL));
    memset(W, 0, sizeof W);
    gate.count = gate.gen = 0;
    gate.open = false;
    memset(R.err, 0, sizeof R.err);
    R.stop = false;
    R.rounds = 0;
}

static void teardown(void)
{
    for (int i = 0; i < WRITERS; i++) {
        for (int k = 0; k < POSTS; k++)
            free(W[i].final_text[k]);
        fixture_person_free(&P[i]);
    }
    fixture_person_free(&watcher);
    free(chan);
    fixture_close(ctx, dir);
}

/* The whole channel history, oldest first. */
static const chat_message **all_history(chat_list ***pages_out, size_t *npages_out, size_t *n_out)
{
    chat_list **pages = NULL;
    size_t npages = 0, n = 0;
    char *cursor = NULL;
    do {
        chat_list *l = NULL;
        ck_assert_chat_ok(chat_message_history(ctx, watcher.s, chan, NULL, NULL, false,
                                               CHAT_MAX_PAGE, cursor, &l));
        free(cursor);
        cursor = NULL;
        pages = realloc(pages, (npages + 1) * sizeof *pages);
        pages[npages++] = l;
        n += chat_list_count(l);
        const char *next = chat_list_next_cursor(l);
        ck_assert_int_eq(chat_list_has_more(l), next != NULL && *next);
        if (next && *next)
            cursor = strdup(next);
        ck_assert_uint_lt(npages, 100);
    } while (cursor);
    const chat_message **out = calloc(n ? n : 1, sizeof *out);
    size_t k = n;
    for (size_t p = 0; p < npages; p++)
        for (size_t j = 0; j < chat_list_count(pages[p]); j++)
            out[--k] = chat_list_message(pages[p], j); /* pages are newest first */
    *pages_out = pages;
    *npages_out = npages;
    *n_out = n;
    return out;
}

static bool mentions_user(const chat_message *m, const char *user)
{
    for (size_t j = 0; j < chat_message_mention_count(m); j++)
        if (strcmp(chat_message_mention(m, j), user) == 0)
            return true;
    return false;
}

static bool text_mentions(const char *text, const char *user)
{
    char tag[40];
    snprintf(tag, sizeof tag, "<@%s>", user);
    return strstr(text, tag) != NULL;
}

static bool text_mentions_all(const char *text)
{
    return strstr(text, "<!channel>") || strstr(text, "<!everyone>") || strstr(text, "<!here>");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

START_TEST(hammer_one_channel)
{
    /* The shared messages everyone reacts to. */
    for (int s = 0; s < SHARED; s++) {
        chat_message *m = NULL;
        char text[32], cmid[32];
        snprintf(text, sizeof text, "shared %d", s);
        snprintf(cmid, sizeof cmid, "shared-%d", s);
        ck_assert_chat_ok(chat_message_post(ctx, P[0].s, chan, text, NULL, cmid, 0, &m));
        snprintf(shared_ts[s], CHAT_TS_SIZE, "%s", chat_message_ts(m));
        chat_message_free(m);
    }

    pthread_t th[WRITERS], rd;
    ck_assert_int_eq(pthread_create(&rd, NULL, reader_main, NULL), 0);
    for (int i = 0; i < WRITERS; i++) {
        W[i].i = i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, writer_main, &W[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_lock(&R.mu);
    R.stop = true;
    pthread_mutex_unlock(&R.mu);
    pthread_join(rd, NULL);
    for (int i = 0; i < WRITERS; i++)
        ck_assert_msg(W[i].err[0] == '\0', "writer %d: %s", i, W[i].err);
    ck_assert_msg(R.err[0] == '\0', "reader: %s", R.err);
    ck_assert_int_gt(R.rounds, 0);

    /* Each writer did what the plan says. */
    int per_writer_deletes = 0, per_writer_edits = 0;
    for (int k = 0; k < POSTS; k++) {
        per_writer_deletes += deleted_at(k);
        per_writer_edits += edited_at(k);
    }
    ck_assert_int_eq(per_writer_deletes, 30);
    ck_assert_int_eq(per_writer_edits, 100);
    for (int i = 0; i < WRITERS; i++) {
        ck_assert_int_eq(W[i].posts, POSTS);
        ck_assert_int_eq(W[i].retries, 100);
        ck_assert_int_eq(W[i].edits, per_writer_edits);
        ck_assert_int_eq(W[i].deletes, per_writer_deletes);
        for (int k = 0; k < POSTS; k++) {
            ck_assert_int_eq(W[i].deleted[k], deleted_at(k));
            ck_assert_int_eq(W[i].edited[k], edited_at(k));
        }
    }

    ck_assert_chat_ok(chat_drain(ctx, 30000));

    /* ---- history: exact count, strictly increasing ts, no duplicates ---- */
    chat_list **pages = NULL;
    size_t npages = 0, n = 0;
    const chat_message **h = all_history(&pages, &npages, &n);
    const size_t live_per_writer = POSTS - (size_t)per_writer_deletes;
    ck_assert_uint_eq(n, SHARED + WRITERS * live_per_writer); /* 1890 */
    for (size_t j = 1; j < n; j++)
        ck_assert_msg(strcmp(chat_message_ts(h[j - 1]), chat_message_ts(h[j])) < 0,
                      "history not strictly increasing at %zu: %s then %s", j,
                      chat_message_ts(h[j - 1]), chat_message_ts(h[j]));
    const char **ids = calloc(n, sizeof *ids);
    for (size_t j = 0; j < n; j++)
        ids[j] = chat_message_client_msg_id(h[j]);
    qsort(ids, n, sizeof *ids, cmp_str);
    for (size_t j = 1; j < n; j++)
        ck_assert_msg(strcmp(ids[j - 1], ids[j]) != 0, "duplicate client_msg_id %s", ids[j]);
    free(ids);

    /* The writers really interleaved. */
    int switches = 0;
    for (size_t j = 1; j < n; j++)
        switches += strcmp(chat_message_user(h[j - 1]), chat_message_user(h[j])) != 0;
    ck_assert_int_ge(switches, 10);
    /* ---- every message is exactly what its writer left ---- */
    size_t matched = 0;
    for (size_t j = 0; j < n; j++) {
        const chat_message *m = h[j];
        int i = -1, k = -1;
        if (sscanf(chat_message_client_msg_id(m), "t%d-%d", &i, &k) != 2)
            continue;
        ck_assert(i >= 0 && i < WRITERS && k >= 0 && k < POSTS);
        ck_assert_msg(!W[i].deleted[k], "deleted message t%d-%d is in the history", i, k);
        ck_assert_str_eq(chat_message_ts(m), W[i].ts[k]);
        ck_assert_str_eq(chat_message_user(m), P[i].id);
        ck_assert_str_eq(chat_message_text(m), W[i].final_text[k]);
        ck_assert_int_eq(chat_message_edited_ts(m)[0] != '\0', W[i].edited[k]);
        if (W[i].edited[k])
            ck_assert_str_eq(chat_message_edited_user(m), P[i].id);
        for (int r = 0; r < WRITERS; r++)
            ck_assert_int_eq(mentions_user(m, P[r].id), text_mentions(W[i].final_text[k], P[r].id));
        ck_assert_int_eq(chat_message_mentions_channel(m) || chat_message_mentions_here(m),
                         text_mentions_all(W[i].final_text[k]));
        ck_assert_uint_eq(chat_message_reaction_count(m), 0);
        matched++;
    }
    ck_assert_uint_eq(matched, WRITERS * live_per_writer);
    /* Deleted messages are gone for good. */
    for (int i = 0; i < WRITERS; i++)
        for (int k = 0; k < POSTS; k++)
            if (W[i].deleted[k]) {
                chat_message *m = NULL;
                ck_assert_chat_err(chat_message_get(ctx, watcher.s, chan, W[i].ts[k], &m),
                                   CHAT_ERR_MESSAGE_NOT_FOUND);
            }

    /* ---- reactions: exactly the net pattern ---- */
    for (int sm = 0; sm < SHARED; sm++) {
        chat_message *m = NULL;
        ck_assert_chat_ok(chat_message_get(ctx, watcher.s, chan, shared_ts[sm], &m));
        ck_assert_str_eq(chat_message_user(m), P[0].id);
        ck_assert_uint_eq(chat_message_reaction_count(m), NAMES); /* each keeps >= 2 users */
        for (int nm = 0; nm < NAMES; nm++) {
            size_t r = 0;
            while (r < chat_message_reaction_count(m) &&
                   strcmp(chat_message_reaction_name(m, r), names[nm]) != 0)
                r++;
            ck_assert_msg(r < chat_message_reaction_count(m), "shared %d lacks %s", sm,
                          names[nm]);
            bool want[WRITERS], got[WRITERS] = {false};
            size_t nwant = 0;
            for (int i = 0; i < WRITERS; i++) {
                want[i] = (i + sm + nm) % 3 != 0;
                nwant += want[i];
            }
            ck_assert_uint_eq(chat_message_reaction_user_count(m, r), nwant);
            for (size_t u = 0; u < chat_message_reaction_user_count(m, r); u++) {
                const char *who = chat_message_reaction_user(m, r, u);
                int i = 0;
                while (i < WRITERS && strcmp(P[i].id, who) != 0)
                    i++;
                ck_assert_msg(i < WRITERS && want[i] && !got[i],
                              "shared %d %s: unexpected or repeated user %s", sm, names[nm], who);
                got[i] = true;
            }
        }
        chat_message_free(m);
    }
    /* The history carries the same reactions. */
    for (size_t j = 0; j < SHARED; j++) {
        ck_assert_str_eq(chat_message_ts(h[j]), shared_ts[j]);
        ck_assert_uint_eq(chat_message_reaction_count(h[j]), NAMES);
    }

    /* ---- unread and mention counts from the final history and markers ---- */
    for (int r = 0; r <= WRITERS; r++) {
        const person *who = r < WRITERS ? &P[r] : &watcher;
        const char *mark = r < WRITERS ? W[r].mark : "";
        if (r < WRITERS)
            ck_assert_str_eq(mark, W[r].ts[475]);
        int64_t unread = 0, mentions = 0;
        for (size_t j = 0; j < n; j++) {
            const chat_message *m = h[j];
            if (strcmp(chat_message_user(m), who->id) == 0)
                continue;
            if (mark[0] && strcmp(chat_message_ts(m), mark) <= 0)
                continue;
            unread++;
            if (text_mentions(chat_message_text(m), who->id) ||
                text_mentions_all(chat_message_text(m)))
                mentions++;
        }
        chat_channel *c = NULL;
        ck_assert_chat_ok(chat_channel_info(ctx, who->s, chan, &c));
        ck_assert_str_eq(chat_channel_last_read(c), mark);
        ck_assert_msg(chat_channel_unread_count(c) == unread, "reader %d: unread %lld, wanted %lld",
                      r, (long long)chat_channel_unread_count(c), (long long)unread);
        ck_assert_msg(chat_channel_mention_count(c) == mentions,
                      "reader %d: mentions %lld, wanted %lld", r,
                      (long long)chat_channel_mention_count(c), (long long)mentions);
        if (r < WRITERS) /* others posted mentions after everyone's last mark */
            ck_assert_int_ge(mentions, 5);
        /* Last activity is the newest message. */
        ck_assert_str_eq(chat_channel_last_activity(c), chat_message_ts(h[n - 1]));
        chat_channel_free(c);
    }
    /* The watcher never marked: everything is unread. */
    chat_channel *c = NULL;
    ck_assert_chat_ok(chat_channel_info(ctx, watcher.s, chan, &c));
    ck_assert_int_eq(chat_channel_unread_count(c), (int64_t)n);
    chat_channel_free(c);

    free(h);
    for (size_t p = 0; p < npages; p++)
        chat_list_free(pages[p]);
    free(pages);
}
END_TEST

/* Many threads retrying one post at once: one message, the same for all. */
typedef struct racer {
    const person *who;
    const char *text;
    const char *cmid;
    chat_err rv;
    char ts[CHAT_TS_SIZE];
    char user[CHAT_ID_SIZE];
    char text_back[64];
} racer;

static void *racer_main(void *arg)
{
    racer *r = arg;
    chat_message *m = NULL;
    r->rv = chat_message_post(ctx, r->who->s, chan, r->text, NULL, r->cmid, 0, &m);
    if (r->rv == CHAT_OK) {
        snprintf(r->ts, sizeof r->ts, "%s", chat_message_ts(m));
        snprintf(r->user, sizeof r->user, "%s", chat_message_user(m));
        snprintf(r->text_back, sizeof r->text_back, "%s", chat_message_text(m));
    }
    chat_message_free(m);
    return NULL;
}

static size_t history_count(void)
{
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_message_history(ctx, watcher.s, chan, NULL, NULL, false, CHAT_MAX_PAGE,
                                           NULL, &l));
    size_t n = chat_list_count(l);
    chat_list_free(l);
    return n;
}

START_TEST(same_client_msg_id_at_once)
{
    enum { T = 8 };
    racer r[T];
    pthread_t th[T];
    for (int round = 0; round < 10; round++) {
        char cmid[32];
        snprintf(cmid, sizeof cmid, "race-%d", round);
        for (int t = 0; t < T; t++) {
            r[t] = (racer){.who = &P[1], .text = "only once", .cmid = cmid};
            ck_assert_int_eq(pthread_create(&th[t], NULL, racer_main, &r[t]), 0);
        }
        for (int t = 0; t < T; t++)
            pthread_join(th[t], NULL);
        for (int t = 0; t < T; t++) {
            ck_assert_msg(r[t].rv == CHAT_OK, "round %d racer %d: %s", round, t,
                          chat_err_name(r[t].rv));
            ck_assert_str_eq(r[t].ts, r[0].ts);
            ck_assert_str_eq(r[t].user, P[1].id);
        }
        ck_assert_uint_eq(history_count(), (size_t)round + 1);
    }
    ck_assert_chat_ok(chat_drain(ctx, 10000));
    chat_channel *c = NULL;
    ck_assert_chat_ok(chat_channel_info(ctx, watcher.s, chan, &c));
    ck_assert_int_eq(chat_channel_unread_count(c), 10); /* one per round, not eight */
    chat_channel_free(c);
}
END_TEST

/* A client_msg_id makes a *retry* idempotent (message.h: "posting again with
 * the same id returns the first message"). Another person who happens to use
 * the same id (ids are client-chosen) is not retrying anything: their post
 * must not be dropped and answered with someone else's message as if it were
 * theirs. */
START_TEST(client_msg_id_belongs_to_its_author)
{
    racer a = {.who = &P[1], .text = "from one", .cmid = "shared-uuid"};
    racer b = {.who = &P[2], .text = "from two", .cmid = "shared-uuid"};
    racer_main(&a);
    ck_assert_chat_ok(a.rv);
    ck_assert_str_eq(a.user, P[1].id);
    racer_main(&b);
    ck_assert_msg(b.rv != CHAT_OK || strcmp(b.user, P[2].id) == 0,
                  "P2's post answered OK with P1's message %s (\"%s\" by %s); P2's text was "
                  "dropped",
                  b.ts, b.text_back, b.user);
    if (b.rv == CHAT_OK)
        ck_assert_str_eq(b.text_back, "from two");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("concurrency");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, hammer_one_channel);
    tcase_add_test(tc, same_client_msg_id_at_once);
    tcase_add_test(tc, client_msg_id_belongs_to_its_author);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
