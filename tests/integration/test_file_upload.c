/* Two-step uploads (chat_file_upload_begin / _finish): the pending state, who
 * may finish, length and once-only rules, and racing finishes. */
#include "fixture.h"

#include <ftw.h>
#include <pthread.h>

#include "api/convert.h"
#include "api/handlers.h"

static chat_ctx *ctx;
static char *dir;
static person ada, bob;

static void setup(void)
{
    ctx = fixture_open(&dir, NULL);
    ada = fixture_person(ctx, "ada@example.com");
    bob = fixture_person(ctx, "bob@example.com");
}

static void teardown(void)
{
    fixture_person_free(&ada);
    fixture_person_free(&bob);
    fixture_close(ctx, dir);
}

#define HELLO "hello, files\n"
#define HELLO_SHA256 "de87f09feb74b4bc17d5209e2d50276aae7fc6f8f0bb7b84a111e6f81a3a79c1" /* computed independently */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static int blob_count;

static int on_blob(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_F && strstr(path, ".tmp.") == NULL)
        blob_count++;
    return 0;
}

static int count_blobs(const char *data_dir)
{
    char root[4096];
    snprintf(root, sizeof root, "%s/blobs", data_dir);
    blob_count = 0;
    nftw(root, on_blob, 16, FTW_PHYS);
    return blob_count;
}

static size_t list_count(const person *p)
{
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_file_list(ctx, p->s, NULL, NULL, NULL, 0, &l));
    size_t n = chat_list_count(l);
    chat_list_free(l);
    return n;
}

/* Begins an upload of len bytes as p; returns the file id (free()). */
static char *begin(const person *p, const char *name, size_t len)
{
    chat_file *f = NULL;
    ck_assert_chat_ok(chat_file_upload_begin(ctx, p->s, name, NULL, NULL, len, &f));
    char *id = strdup(chat_file_id(f));
    chat_file_free(f);
    return id;
}

START_TEST(pending_until_finished)
{
    size_t len = strlen(HELLO);
    chat_file *f = NULL;
    ck_assert_chat_ok(
        chat_file_upload_begin(ctx, ada.s, "hello.txt", NULL, "text/plain", len, &f));
    ck_assert_int_eq(chat_file_id(f)[0], 'F');
    ck_assert_str_eq(chat_file_name(f), "hello.txt");
    ck_assert_str_eq(chat_file_title(f), "hello.txt");
    ck_assert_str_eq(chat_file_mimetype(f), "text/plain");
    ck_assert_int_eq(chat_file_size(f), (int64_t)len);
    ck_assert_str_eq(chat_file_sha256(f), "");
    ck_assert_str_eq(chat_file_user(f), ada.id);
    char *id = strdup(chat_file_id(f));
    chat_file_free(f);

    /* Pending: the uploader sees it, nobody else; never listed, shared or
     * downloaded; no bytes stored yet. */
    ck_assert_chat_ok(chat_file_info(ctx, ada.s, id, &f));
    ck_assert_str_eq(chat_file_sha256(f), "");
    ck_assert_int_eq(chat_file_size(f), (int64_t)len);
    chat_file_free(f);
    ck_assert_chat_err(chat_file_info(ctx, bob.s, id, &f), CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_uint_eq(list_count(&ada), 0);
    void *bytes = NULL;
    size_t n = 0;
    ck_assert_chat_err(chat_file_download(ctx, ada.s, id, &bytes, &n, NULL),
                       CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_ptr_null(bytes);
    char *general = fixture_channel(ctx, &ada, "uploads", false);
    chat_message *m = NULL;
    ck_assert_chat_err(chat_file_share(ctx, ada.s, id, general, "early", NULL, &m),
                       CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(count_blobs(dir), 0);

    /* Only the uploader finishes, and only with the promised length. */
    ck_assert_chat_err(chat_file_upload_finish(ctx, bob.s, id, HELLO, len, &f),
                       CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_ptr_null(f);
    ck_assert_chat_err(chat_file_upload_finish(ctx, ada.s, id, HELLO, len - 1, &f),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chat_file_upload_finish(ctx, ada.s, id, HELLO HELLO, 2 * len, &f),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chat_file_upload_finish(ctx, ada.s, id, NULL, len, &f),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_int_eq(count_blobs(dir), 0);

    ck_assert_chat_ok(chat_file_upload_finish(ctx, ada.s, id, HELLO, len, &f));
    ck_assert_str_eq(chat_file_id(f), id);
    ck_assert_int_eq(chat_file_size(f), (int64_t)len);
    ck_assert_str_eq(chat_file_sha256(f), HELLO_SHA256);
    chat_file_free(f);
    ck_assert_int_eq(count_blobs(dir), 1);

    /* Now an ordinary file: listed, downloadable, shareable. */
    ck_assert_uint_eq(list_count(&ada), 1);
    ck_assert_chat_ok(chat_file_download(ctx, ada.s, id, &bytes, &n, &f));
    ck_assert_uint_eq(n, len);
    ck_assert_mem_eq(bytes, HELLO, len);
    ck_assert_str_eq(chat_file_sha256(f), HELLO_SHA256);
    chat_free(bytes);
    chat_file_free(f);
    ck_assert_chat_ok(chat_file_share(ctx, ada.s, id, general, "here", NULL, &m));
    ck_assert_uint_eq(chat_message_file_count(m), 1);
    ck_assert_str_eq(chat_message_file_id(m, 0), id);
    chat_message_free(m);
    ck_assert_chat_ok(chat_file_download(ctx, bob.s, id, &bytes, &n, NULL));
    ck_assert_mem_eq(bytes, HELLO, len);
    chat_free(bytes);

    /* A second finish is refused and changes nothing. */
    ck_assert_chat_err(chat_file_upload_finish(ctx, ada.s, id, "HELLO, FILES\n", len, &f),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_ok(chat_file_download(ctx, ada.s, id, &bytes, &n, NULL));
    ck_assert_mem_eq(bytes, HELLO, len);
    chat_free(bytes);
    free(general);
    free(id);
}
END_TEST

START_TEST(begin_validates)
{
    chat_file *f = (chat_file *)1;
    ck_assert_chat_err(chat_file_upload_begin(ctx, ada.s, "", NULL, NULL, 1, &f),
                       CHAT_ERR_INVALID_NAME);
    ck_assert_ptr_null(f);
    ck_assert_chat_err(chat_file_upload_begin(ctx, ada.s, NULL, NULL, NULL, 1, &f),
                       CHAT_ERR_INVALID_NAME);
    ck_assert_chat_err(chat_file_upload_begin(ctx, ada.s, "x", NULL, "no type", 1, &f),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_ok(chat_file_upload_begin(ctx, ada.s, "x", NULL, NULL, 1, NULL));
    ck_assert_chat_err(chat_file_upload_begin(ctx, NULL, "x", NULL, NULL, 1, &f),
                       CHAT_ERR_NOT_AUTHED);

    /* The limit applies to the announced length, before any byte arrives. */
    char *d2 = NULL;
    chat_ctx *c2 = fixture_open(&d2, "files.max_bytes", "100", NULL);
    person p = fixture_person(c2, "pat@example.com");
    ck_assert_chat_err(chat_file_upload_begin(c2, p.s, "big", NULL, NULL, 101, &f),
                       CHAT_ERR_FILE_TOO_LARGE);
    ck_assert_ptr_null(f);
    ck_assert_chat_ok(chat_file_upload_begin(c2, p.s, "edge", NULL, NULL, 100, &f));
    ck_assert_int_eq(chat_file_size(f), 100);
    chat_file_free(f);
    fixture_person_free(&p);
    fixture_close(c2, d2);
}
END_TEST

START_TEST(finish_rules)
{
    /* Unknown or malformed ids. */
    chat_file *f = NULL;
    ck_assert_chat_err(chat_file_upload_finish(ctx, ada.s, "FNOSUCHFILE", "x", 1, &f),
                       CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_chat_err(chat_file_upload_finish(ctx, ada.s, "not-an-id", "x", 1, &f),
                       CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_chat_err(chat_file_upload_finish(ctx, ada.s, NULL, "x", 1, &f),
                       CHAT_ERR_FILE_NOT_FOUND);

    /* A finished one-step upload cannot be finished again. */
    ck_assert_chat_ok(chat_file_upload(ctx, ada.s, "one.txt", NULL, NULL, "1", 1, &f));
    ck_assert_chat_err(chat_file_upload_finish(ctx, ada.s, chat_file_id(f), "2", 1, NULL),
                       CHAT_ERR_INVALID_ARGUMENTS);
    chat_file_free(f);

    /* The uploader may delete a pending file; it cannot be finished then. */
    char *id = begin(&ada, "gone.bin", 3);
    ck_assert_chat_err(chat_file_delete(ctx, bob.s, id), CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_chat_ok(chat_file_delete(ctx, ada.s, id));
    ck_assert_chat_err(chat_file_upload_finish(ctx, ada.s, id, "abc", 3, &f),
                       CHAT_ERR_FILE_DELETED);
    free(id);

    /* An empty file goes through both steps too; out may be NULL. */
    id = begin(&ada, "empty", 0);
    ck_assert_chat_ok(chat_file_upload_finish(ctx, ada.s, id, NULL, 0, NULL));
    ck_assert_chat_ok(chat_file_info(ctx, ada.s, id, &f));
    ck_assert_str_eq(chat_file_sha256(f), EMPTY_SHA256);
    ck_assert_int_eq(chat_file_size(f), 0);
    chat_file_free(f);
    void *bytes = NULL;
    size_t n = 9;
    ck_assert_chat_ok(chat_file_download(ctx, ada.s, id, &bytes, &n, NULL));
    ck_assert_uint_eq(n, 0);
    chat_free(bytes);
    free(id);

    /* A failed one-step upload leaves no pending record behind. */
    char *d2 = NULL;
    chat_ctx *c2 = fixture_open(&d2, "files.max_bytes", "4", NULL);
    person p = fixture_person(c2, "pat@example.com");
    ck_assert_chat_err(chat_file_upload(c2, p.s, "big", NULL, NULL, "12345", 5, &f),
                       CHAT_ERR_FILE_TOO_LARGE);
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_file_list(c2, p.s, NULL, NULL, NULL, 0, &l));
    ck_assert_uint_eq(chat_list_count(l), 0);
    chat_list_free(l);
    ck_assert_int_eq(count_blobs(d2), 0);
    fixture_person_free(&p);
    fixture_close(c2, d2);
}
END_TEST

START_TEST(set_title_rules)
{
    char *id = begin(&ada, "raw.txt", 2);
    chat_file *f = NULL;
    /* Pending or finished, only the uploader renames. */
    ck_assert_chat_ok(chat_file_set_title(ctx, ada.s, id, "Draft"));
    ck_assert_chat_err(chat_file_set_title(ctx, bob.s, id, "Mine now"), CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_chat_ok(chat_file_upload_finish(ctx, ada.s, id, "ok", 2, &f));
    ck_assert_str_eq(chat_file_title(f), "Draft");
    chat_file_free(f);
    ck_assert_chat_ok(chat_file_set_title(ctx, ada.s, id, "Final"));
    ck_assert_chat_ok(chat_file_info(ctx, ada.s, id, &f));
    ck_assert_str_eq(chat_file_title(f), "Final");
    ck_assert_str_eq(chat_file_name(f), "raw.txt");
    chat_file_free(f);
    /* Empty restores the name; limits as at upload. */
    ck_assert_chat_ok(chat_file_set_title(ctx, ada.s, id, ""));
    ck_assert_chat_ok(chat_file_info(ctx, ada.s, id, &f));
    ck_assert_str_eq(chat_file_title(f), "raw.txt");
    chat_file_free(f);
    char long_title[300];
    memset(long_title, 'x', sizeof long_title - 1);
    long_title[sizeof long_title - 1] = '\0';
    ck_assert_chat_err(chat_file_set_title(ctx, ada.s, id, long_title), CHAT_ERR_TOO_LONG);
    ck_assert_chat_err(chat_file_set_title(ctx, ada.s, id, "bad \xff"), CHAT_ERR_INVALID_UTF8);
    ck_assert_chat_err(chat_file_set_title(ctx, ada.s, "FNOSUCHFILE", "x"),
                       CHAT_ERR_FILE_NOT_FOUND);
    ck_assert_chat_ok(chat_file_delete(ctx, ada.s, id));
    ck_assert_chat_err(chat_file_set_title(ctx, ada.s, id, "late"), CHAT_ERR_FILE_DELETED);
    free(id);
}
END_TEST

/* Racing finishes of one file with different bytes: exactly one wins and the
 * stored bytes are the winner's, matching the checksum. */
#define RACERS 6
#define RACE_LEN 4096

typedef struct racer {
    const char *id;
    unsigned char data[RACE_LEN];
    chat_err rv;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    r->rv = chat_file_upload_finish(ctx, ada.s, r->id, r->data, RACE_LEN, NULL);
    return NULL;
}

START_TEST(racing_finishes)
{
    for (int round = 0; round < 5; round++) {
        char *id = begin(&ada, "race.bin", RACE_LEN);
        static racer rs[RACERS];
        pthread_t th[RACERS];
        for (int i = 0; i < RACERS; i++) {
            rs[i].id = id;
            memset(rs[i].data, 'a' + i, RACE_LEN);
            ck_assert_int_eq(pthread_create(&th[i], NULL, race, &rs[i]), 0);
        }
        int winner = -1, wins = 0;
        for (int i = 0; i < RACERS; i++) {
            pthread_join(th[i], NULL);
            if (rs[i].rv == CHAT_OK) {
                winner = i;
                wins++;
            } else {
                ck_assert_int_eq(rs[i].rv, CHAT_ERR_INVALID_ARGUMENTS);
            }
        }
        ck_assert_int_eq(wins, 1);
        void *bytes = NULL;
        size_t n = 0;
        ck_assert_chat_ok(chat_file_download(ctx, ada.s, id, &bytes, &n, NULL));
        ck_assert_uint_eq(n, RACE_LEN);
        ck_assert_mem_eq(bytes, rs[winner].data, RACE_LEN);
        chat_free(bytes);
        free(id);
    }
}
END_TEST

/* The API shape of a shared file inside a message: full objects where the
 * reader may see the file, the bare id where not (e.g. deleted). */
START_TEST(messages_carry_full_files)
{
    char *chan = fixture_channel(ctx, &ada, "shared", false);
    char *id = begin(&ada, "photo.png", 4);
    ck_assert_chat_ok(chat_file_upload_finish(ctx, ada.s, id, "\x89PNG", 4, NULL));
    ck_assert_chat_ok(chat_file_share(ctx, ada.s, id, chan, "look", NULL, NULL));
    chat_list *l = NULL;
    ck_assert_chat_ok(chat_message_history(ctx, bob.s, chan, NULL, NULL, false, 0, NULL, &l));
    Chat__Api__Message **msgs = NULL;
    size_t n = 0;
    ck_assert_chat_ok(chati_api_messages(l, &msgs, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(msgs[0]->n_files, 1);
    chati_api_fill_files(ctx, bob.s, msgs, n);
    const Chat__Api__File *f = msgs[0]->files[0];
    ck_assert_str_eq(f->id, id);
    ck_assert_str_eq(f->name, "photo.png");
    ck_assert_str_eq(f->mimetype, "application/octet-stream");
    ck_assert_str_eq(f->filetype, "png");
    ck_assert_str_eq(f->user, ada.id);
    ck_assert_int_eq(f->size, 4);
    ck_assert_uint_eq(f->n_channels, 1);
    ck_assert_str_eq(f->channels[0], chan);
    ck_assert_ptr_nonnull(strstr(f->url_private, "/files/"));
    for (size_t i = 0; i < n; i++)
        protobuf_c_message_free_unpacked(&msgs[i]->base, NULL);
    chat_free(msgs);

    /* Once deleted, only the id remains. */
    ck_assert_chat_ok(chat_file_delete(ctx, ada.s, id));
    msgs = NULL;
    n = 0;
    ck_assert_chat_ok(chati_api_messages(l, &msgs, &n));
    chati_api_fill_files(ctx, bob.s, msgs, n);
    ck_assert_str_eq(msgs[0]->files[0]->id, id);
    ck_assert(msgs[0]->files[0]->name == NULL || msgs[0]->files[0]->name[0] == '\0');
    for (size_t i = 0; i < n; i++)
        protobuf_c_message_free_unpacked(&msgs[i]->base, NULL);
    chat_free(msgs);
    chat_list_free(l);
    free(id);
    free(chan);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("file_upload");
    TCase *tc = tcase_create("two_step");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pending_until_finished);
    tcase_add_test(tc, begin_validates);
    tcase_add_test(tc, finish_rules);
    tcase_add_test(tc, set_title_rules);
    tcase_add_test(tc, racing_finishes);
    tcase_add_test(tc, messages_carry_full_files);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
