/*
 * Message store contract: files (insert, list, share through a post, delete,
 * two-step uploads, titles) and the outbox (what each change records, fetch
 * and ack). The fixture and the suite's assembly are in
 * message_store_fixture.c.
 */
#include <stdio.h>
#include <string.h>

#include <chat/backend/store.h>

#include "contract.h"
#include "message_store_fixture.h"
#include "testutil.h"

static void add_file(const char *id, const char *user, int64_t created, const char *chan)
{
    chat_file f;
    char chans[1][CHAT_ID_SIZE];
    memset(&f, 0, sizeof f);
    strcpy(f.id, id);
    strcpy(f.team_id, "T1");
    strcpy(f.user, user);
    f.name = "report.pdf";
    f.title = "Report";
    f.mimetype = "application/pdf";
    f.size = 1234;
    memset(f.sha256, 'a', 64);
    f.created = created;
    if (chan != NULL) {
        strcpy(chans[0], chan);
        f.channels = chans;
        f.n_channels = 1;
    }
    ck_assert_chat_ok(S->file_insert(impl, &f));
}

static void expect_files(const chat_list *l, const char *const *ids, size_t n)
{
    ck_assert_uint_eq(chat_list_count(l), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(chat_list_file(l, i)->id, ids[i]);
}

START_TEST(files)
{
    add_file("F1", "U1", 100, NULL);   /* private to U1 */
    add_file("F2", "U2", 200, NULL);   /* shared to C1 by a post below */
    add_file("F3", "U2", 300, NULL);   /* private to U2 */
    add_file("F4", "U2", 300, "C2");   /* shared to C2 at upload */

    chat_message m;
    memset(&m, 0, sizeof m);
    strcpy(m.channel, "C1");
    strcpy(m.user, "U2");
    m.text = "";
    char fl[2][CHAT_ID_SIZE] = {"F2", "F9"}; /* F9 does not exist: ignored */
    m.files = fl;
    m.n_files = 2;
    ck_assert_chat_ok(S->post(impl, &m, BASE_US, NULL, NULL, NULL));
    strcpy(m.channel, "C2");
    m.n_files = 1;
    ck_assert_chat_ok(S->post(impl, &m, BASE_US, NULL, NULL, NULL));

    chat_file *f = NULL;
    ck_assert_chat_ok(S->file_get(impl, "F2", &f));
    ck_assert_str_eq(f->user, "U2");
    ck_assert_str_eq(f->name, "report.pdf");
    ck_assert_str_eq(f->title, "Report");
    ck_assert_str_eq(f->mimetype, "application/pdf");
    ck_assert_int_eq(f->size, 1234);
    ck_assert_int_eq(f->created, 200);
    ck_assert_uint_eq(strlen(f->sha256), 64);
    ck_assert(!f->deleted);
    ck_assert_uint_eq(f->n_channels, 2);
    ck_assert_str_eq(f->channels[0], "C1");
    ck_assert_str_eq(f->channels[1], "C2");
    chat_file_free(f);
    ck_assert_chat_ok(S->file_get(impl, "F4", &f));
    ck_assert_uint_eq(f->n_channels, 1);
    ck_assert_str_eq(f->channels[0], "C2");
    chat_file_free(f);
    ck_assert_chat_err(S->file_get(impl, "F9", &f), CHAT_ERR_FILE_NOT_FOUND);

    add_file("F5", "U1", 50, NULL);
    chat_file dup;
    memset(&dup, 0, sizeof dup);
    strcpy(dup.id, "F5");
    ck_assert_chat_err(S->file_insert(impl, &dup), CHAT_ERR_DUPLICATE);

    /* U1 sees its own files and those in C1; newest first, ties by insertion. */
    chat_list *l = NULL;
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U1", C1, 1, NULL, 0, &l));
    expect_files(l, (const char *[]){"F2", "F1", "F5"}, 3);
    ck_assert_uint_eq(chat_list_file(l, 0)->n_channels, 2);
    chat_list_free(l);
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U1", C12, 2, NULL, 0, &l));
    expect_files(l, (const char *[]){"F4", "F2", "F1", "F5"}, 4);
    chat_list_free(l);
    ck_assert_chat_ok(S->file_list(impl, "T1", "C1", NULL, "U1", C12, 2, NULL, 0, &l));
    expect_files(l, (const char *[]){"F2"}, 1);
    chat_list_free(l);
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, "U2", "U1", C12, 2, NULL, 0, &l));
    expect_files(l, (const char *[]){"F4", "F2"}, 2);
    chat_list_free(l);
    /* F3 and F4 have the same time: the later insert is newer. */
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U2", NULL, 0, NULL, 0, &l));
    expect_files(l, (const char *[]){"F4", "F3", "F2"}, 3);
    chat_list_free(l);
    ck_assert_chat_ok(S->file_list(impl, "T9", NULL, NULL, "U1", C12, 2, NULL, 0, &l));
    expect_files(l, NULL, 0);
    chat_list_free(l);

    /* Paging one at a time. */
    const char *all[] = {"F4", "F2", "F1", "F5"};
    char *cur = NULL;
    for (size_t i = 0; i < 4; i++) {
        ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U1", C12, 2, cur, 1, &l));
        chat_free(cur);
        cur = NULL;
        expect_files(l, &all[i], 1);
        ck_assert(chat_list_has_more(l) == (i < 3));
        if (i < 3)
            cur = chat_strdup(chat_list_next_cursor(l));
        chat_list_free(l);
    }

    ck_assert_chat_ok(S->file_delete(impl, "F2"));
    ck_assert_chat_ok(S->file_get(impl, "F2", &f));
    ck_assert(f->deleted);
    chat_file_free(f);
    ck_assert_chat_err(S->file_delete(impl, "F2"), CHAT_ERR_FILE_DELETED);
    ck_assert_chat_err(S->file_delete(impl, "F9"), CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U1", C1, 1, NULL, 0, &l));
    expect_files(l, (const char *[]){"F1", "F5"}, 2);
    chat_list_free(l);
}
END_TEST

START_TEST(outbox)
{
    char ts[CHAT_TS_SIZE], t2[CHAT_TS_SIZE];
    ck_assert_uint_eq(outbox_count(), 0);
    post("C1", "U1", "hello", NULL, ts);
    chat_message m;
    memset(&m, 0, sizeof m);
    strcpy(m.channel, "C1");
    strcpy(m.ts, ts);
    m.text = "hello edited";
    ck_assert_chat_ok(S->update(impl, &m, rec_outbox, "message.changed", NULL));
    ck_assert_chat_ok(S->add_reaction(impl, "C1", ts, "wave", "U2", rec_outbox, "reaction.added"));
    ck_assert_chat_ok(S->remove(impl, "C1", ts, rec_outbox, "message.deleted"));
    /* No outbox function: no row. */
    ck_assert_chat_ok(post_full("C1", "U1", "quiet", NULL, NULL, false, BASE_US, NULL));
    chat_message q;
    memset(&q, 0, sizeof q);
    strcpy(q.channel, "C1");
    q.text = "no event";
    ck_assert_chat_ok(S->post(impl, &q, BASE_US, NULL, NULL, NULL));

    chat_outbox_item *it = NULL;
    size_t n = 0;
    ck_assert_chat_ok(S->outbox_fetch(impl, 0, 100, &it, &n));
    ck_assert_uint_eq(n, 5);
    const char *topics[] = {"message.test", "message.changed", "reaction.added",
                            "message.deleted", "message.test"};
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(it[i].topic, topics[i]);
        ck_assert_str_eq(it[i].key, "C1");
        if (i > 0)
            ck_assert_int_gt(it[i].seq, it[i - 1].seq);
    }
    char want[128];
    snprintf(want, sizeof want, "%s|hello|0|0", ts);
    ck_assert_uint_eq(it[0].len, strlen(want));
    ck_assert(memcmp(it[0].data, want, it[0].len) == 0);
    snprintf(want, sizeof want, "%s|hello edited|0|0", ts);
    ck_assert(it[1].len == strlen(want) && memcmp(it[1].data, want, it[1].len) == 0);
    snprintf(want, sizeof want, "%s|hello edited|0|1", ts); /* after the change */
    ck_assert(it[2].len == strlen(want) && memcmp(it[2].data, want, it[2].len) == 0);
    ck_assert(it[3].len == strlen(want) && memcmp(it[3].data, want, it[3].len) == 0);
    int64_t s1 = it[1].seq, s4 = it[4].seq;
    chat_outbox_items_free(it, n);

    /* after_seq and max. */
    ck_assert_chat_ok(S->outbox_fetch(impl, s1, 2, &it, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(it[0].topic, "reaction.added");
    chat_outbox_items_free(it, n);

    ck_assert_chat_ok(S->outbox_ack(impl, s1));
    ck_assert_chat_ok(S->outbox_fetch(impl, 0, 100, &it, &n));
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(it[0].topic, "reaction.added");
    chat_outbox_items_free(it, n);
    ck_assert_chat_ok(S->outbox_ack(impl, s4));
    ck_assert_chat_ok(S->outbox_fetch(impl, 0, 100, &it, &n));
    ck_assert_uint_eq(n, 0);
    chat_outbox_items_free(it, n);

    /* Sequence numbers keep increasing after everything was acked. */
    post("C1", "U1", "again", NULL, t2);
    ck_assert_chat_ok(S->outbox_fetch(impl, 0, 100, &it, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_int_gt(it[0].seq, s4);
    chat_outbox_items_free(it, n);
}
END_TEST

/* Two-step uploads: a file inserted pending (sha256 "") is completed once. */
static void add_pending(const char *id, const char *user, int64_t created, int64_t size)
{
    chat_file f;
    memset(&f, 0, sizeof f);
    strcpy(f.id, id);
    strcpy(f.team_id, "T1");
    strcpy(f.user, user);
    f.name = "upload.bin";
    f.title = "Upload";
    f.mimetype = "application/octet-stream";
    f.size = size;
    f.created = created;
    ck_assert_chat_ok(S->file_insert(impl, &f));
}

START_TEST(file_complete)
{
    ck_assert_ptr_nonnull(S->file_complete);
    add_pending("F1", "U1", 100, 12);
    add_file("F2", "U1", 50, NULL);

    /* Pending: file_get shows it as inserted; file_list leaves it out. */
    chat_file *f = NULL;
    ck_assert_chat_ok(S->file_get(impl, "F1", &f));
    ck_assert_str_eq(f->sha256, "");
    ck_assert_int_eq(f->size, 12);
    chat_file_free(f);
    chat_list *l = NULL;
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U1", NULL, 0, NULL, 0, &l));
    expect_files(l, (const char *[]){"F2"}, 1);
    chat_list_free(l);
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, "U1", "U1", C1, 1, NULL, 0, &l));
    expect_files(l, (const char *[]){"F2"}, 1);
    chat_list_free(l);

    /* Malformed completions change nothing. */
    char upper[65], sum[65];
    memset(upper, 'B', 64);
    upper[64] = '\0';
    memset(sum, 'b', 64);
    sum[64] = '\0';
    ck_assert_chat_err(S->file_complete(impl, "F1", 12, "abc"), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(S->file_complete(impl, "F1", 12, upper), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(S->file_complete(impl, "F1", -1, sum), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(S->file_complete(impl, "F9", 12, sum), CHAT_ERR_FILE_NOT_FOUND);

    /* Completion sets size and checksum, keeps the rest, and lists the file. */
    ck_assert_chat_ok(S->file_complete(impl, "F1", 7, sum));
    ck_assert_chat_ok(S->file_get(impl, "F1", &f));
    ck_assert_str_eq(f->sha256, sum);
    ck_assert_int_eq(f->size, 7);
    ck_assert_str_eq(f->user, "U1");
    ck_assert_str_eq(f->team_id, "T1");
    ck_assert_str_eq(f->name, "upload.bin");
    ck_assert_str_eq(f->title, "Upload");
    ck_assert_str_eq(f->mimetype, "application/octet-stream");
    ck_assert_int_eq(f->created, 100);
    ck_assert(!f->deleted);
    chat_file_free(f);
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U1", NULL, 0, NULL, 0, &l));
    expect_files(l, (const char *[]){"F1", "F2"}, 2);
    chat_list_free(l);

    /* Only once: a second completion (or one of a finished file) is a duplicate. */
    char other[65];
    memset(other, 'c', 64);
    other[64] = '\0';
    ck_assert_chat_err(S->file_complete(impl, "F1", 7, other), CHAT_ERR_DUPLICATE);
    ck_assert_chat_err(S->file_complete(impl, "F2", 1234, other), CHAT_ERR_DUPLICATE);
    ck_assert_chat_ok(S->file_get(impl, "F1", &f));
    ck_assert_str_eq(f->sha256, sum);
    chat_file_free(f);

    /* A pending file deleted before its bytes came cannot be completed. */
    add_pending("F3", "U1", 200, 5);
    ck_assert_chat_ok(S->file_delete(impl, "F3"));
    ck_assert_chat_err(S->file_complete(impl, "F3", 5, sum), CHAT_ERR_FILE_DELETED);
    ck_assert_chat_ok(S->file_get(impl, "F3", &f));
    ck_assert_str_eq(f->sha256, "");
    ck_assert(f->deleted);
    chat_file_free(f);

    /* Completions survive a reopen. */
    char *url = chat_strdup(contract_url());
    S->close(impl);
    impl = NULL;
    ck_assert_chat_ok(S->open(url, contract_cfg(), &impl));
    chat_free(url);
    ck_assert_chat_ok(S->file_get(impl, "F1", &f));
    ck_assert_str_eq(f->sha256, sum);
    ck_assert_int_eq(f->size, 7);
    chat_file_free(f);
}
END_TEST

START_TEST(file_set_title)
{
    ck_assert_ptr_nonnull(S->file_set_title);
    add_pending("F1", "U1", 100, 3);
    add_file("F2", "U1", 50, NULL);
    ck_assert_chat_ok(S->file_set_title(impl, "F1", "Renamed 東京"));
    ck_assert_chat_ok(S->file_set_title(impl, "F2", "Also renamed"));
    chat_file *f = NULL;
    ck_assert_chat_ok(S->file_get(impl, "F1", &f));
    ck_assert_str_eq(f->title, "Renamed 東京");
    ck_assert_str_eq(f->name, "upload.bin");
    ck_assert_str_eq(f->sha256, ""); /* still pending */
    chat_file_free(f);
    chat_list *l = NULL;
    ck_assert_chat_ok(S->file_list(impl, "T1", NULL, NULL, "U1", NULL, 0, NULL, 0, &l));
    expect_files(l, (const char *[]){"F2"}, 1);
    ck_assert_str_eq(chat_list_file(l, 0)->title, "Also renamed");
    chat_list_free(l);
    ck_assert_chat_err(S->file_set_title(impl, "F9", "x"), CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_chat_ok(S->file_delete(impl, "F2"));
    ck_assert_chat_err(S->file_set_title(impl, "F2", "x"), CHAT_ERR_FILE_DELETED);
    ck_assert_chat_ok(S->file_get(impl, "F2", &f));
    ck_assert_str_eq(f->title, "Also renamed");
    chat_file_free(f);
}
END_TEST

/* Scheduled messages: stored as given, listed per user soonest first,
 * leased when due and not again until the lease runs out, removed once. */
static chat_scheduled sched(const char *id, const char *user, const char *ch, int64_t post_at)
{
    chat_scheduled q;
    memset(&q, 0, sizeof q);
    strcpy(q.id, id);
    strcpy(q.team_id, "T1");
    strcpy(q.channel, ch);
    strcpy(q.user, user);
    q.post_at = post_at;
    q.created = 1700000000;
    q.text = (char *)"later";
    q.data = (char *)"{\"text\":\"later\"}";
    return q;
}

START_TEST(scheduled)
{
    ck_assert_ptr_nonnull(S->schedule); /* both backends in the tree keep them */
    chat_scheduled qs[] = {sched("Q1", "U1", "C1", 1700000300), sched("Q2", "U1", "C2", 1700000100),
                           sched("Q3", "U2", "C1", 1700000200)};
    for (size_t i = 0; i < 3; i++)
        ck_assert_chat_ok(S->schedule(impl, &qs[i]));
    ck_assert_chat_err(S->schedule(impl, &qs[0]), CHAT_ERR_DUPLICATE);

    chat_scheduled *got = NULL;
    size_t n = 0;
    ck_assert_chat_ok(S->list_scheduled(impl, "T1", "U1", NULL, 10, &got, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(got[0].id, "Q2"); /* soonest first */
    ck_assert_str_eq(got[0].channel, "C2");
    ck_assert_int_eq(got[0].post_at, 1700000100);
    ck_assert_int_eq(got[0].created, 1700000000);
    ck_assert_str_eq(got[0].text, "later");
    ck_assert_str_eq(got[0].data, "{\"text\":\"later\"}");
    ck_assert_str_eq(got[1].id, "Q1");
    chat_scheduled_free(got, n);
    ck_assert_chat_ok(S->list_scheduled(impl, "T1", "U1", "C1", 10, &got, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(got[0].id, "Q1");
    chat_scheduled_free(got, n);
    ck_assert_chat_ok(S->list_scheduled(impl, "T2", "U1", NULL, 10, &got, &n));
    ck_assert_uint_eq(n, 0);
    chat_scheduled_free(got, n);

    /* due at 1700000250: Q2 and Q3, soonest first; leased, not again */
    int64_t now = INT64_C(1700000250000);
    ck_assert_chat_ok(S->lease_scheduled(impl, now, 5000, 10, &got, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(got[0].id, "Q2");
    ck_assert_str_eq(got[1].id, "Q3");
    ck_assert_str_eq(got[1].user, "U2");
    chat_scheduled_free(got, n);
    ck_assert_chat_ok(S->lease_scheduled(impl, now + 1000, 5000, 10, &got, &n));
    ck_assert_uint_eq(n, 0);
    chat_scheduled_free(got, n);
    /* the lease runs out: due again; max holds */
    ck_assert_chat_ok(S->lease_scheduled(impl, now + 6000, 5000, 1, &got, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(got[0].id, "Q2");
    chat_scheduled_free(got, n);

    /* removed by its user (or by anyone, as the scheduler does), once */
    ck_assert_chat_err(S->unschedule(impl, "Q1", "U2"), CHAT_ERR_NOT_FOUND);
    ck_assert_chat_ok(S->unschedule(impl, "Q1", "U1"));
    ck_assert_chat_err(S->unschedule(impl, "Q1", "U1"), CHAT_ERR_NOT_FOUND);
    ck_assert_chat_ok(S->unschedule(impl, "Q3", NULL));
    ck_assert_chat_ok(S->list_scheduled(impl, "T1", "U1", NULL, 10, &got, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(got[0].id, "Q2");
    chat_scheduled_free(got, n);
}
END_TEST

/* Registered by message_store_fixture.c, in the suite's order. */
void ms_add_file_tests(TCase *tc)
{
    tcase_add_test(tc, files);
    tcase_add_test(tc, outbox);
}

void ms_add_upload_tests(TCase *tc)
{
    tcase_add_test(tc, file_complete);
    tcase_add_test(tc, file_set_title);
    tcase_add_test(tc, scheduled);
}
