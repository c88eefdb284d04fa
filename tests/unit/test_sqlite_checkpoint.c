/*
 * WAL checkpoints run on each database's checkpointer thread, not inside the
 * COMMIT that crosses the threshold (db_checkpoint.c): a commit that fills the
 * WAL returns before its frames are in the database file, the file gets them
 * soon after, and under a steady stream of commits the WAL keeps restarting
 * instead of growing. With exclusive locking too, where the checkpointer's
 * connection shares the process's lock.
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/sqlite/db.h"
#include "core/internal.h"

static const chati_migration migs[] = {
    {1, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)"},
};

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* One transaction of rows rows of 3,000 bytes: about a page each. */
static void write_rows(chati_db *d, int rows)
{
    ck_assert_int_eq(chati_db_begin(d), CHAT_OK);
    sqlite3_stmt *st = chati_db_stmt(d, "INSERT INTO t (v) VALUES (zeroblob(3000))");
    ck_assert_ptr_nonnull(st);
    for (int i = 0; i < rows; i++) {
        ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    ck_assert_int_eq(chati_db_commit(d), CHAT_OK);
}

static int count_rows(chati_db *d)
{
    chati_db_lock(d);
    sqlite3_stmt *st = chati_db_stmt(d, "SELECT count(*) FROM t");
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    chati_db_unlock(d);
    return n;
}

static void checkpoints_off_the_commit_path(bool exclusive)
{
    char *dir = chat_test_tmpdir("sqlite-ckpt");
    char path[512], wal[520];
    snprintf(path, sizeof path, "%s/t.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    chati_db *d = NULL;
    ck_assert_int_eq(chati_db_open(path, exclusive, migs, 1, &d), CHAT_OK);

    /* A commit of 1,500 pages crosses the 1,000-frame threshold. An inline
     * checkpoint would have copied them to the file before COMMIT returned;
     * the thread needs milliseconds (two syncs of ~6 MB). Five tries, so one
     * stall of this thread cannot fail the test. */
    int early = 0;
    for (int round = 0; round < 5; round++) {
        off_t before = file_size(path);
        write_rows(d, 1500);
        early += file_size(path) < before + 1000 * 4096;
        /* The thread copies them soon. */
        int64_t deadline = chati_mono_ms() + 10000;
        while (file_size(path) < before + 1400 * 4096 && chati_mono_ms() < deadline)
            chati_sleep_ms(5);
        ck_assert_msg(file_size(path) >= before + 1400 * 4096,
                      "round %d: the WAL was not checkpointed within 10 s", round);
    }
    ck_assert_msg(early > 0, "every commit checkpointed before returning");

    /* A steady stream of small commits, at a pace the disk can sync (a
     * writer faster than that outruns any checkpointer; the WAL is then
     * bounded by the inline checkpoint at 64 MB). The WAL restarts from its
     * beginning after each checkpoint, cut back to 16 MB the first time
     * (journal_size_limit), and then stays near the 4 MB threshold; without
     * restarts it would keep the 30 MB written above and grow by 16 MB. */
    for (int i = 0; i < 4000; i++) {
        write_rows(d, 1);
        usleep(100);
    }
    ck_assert_msg(file_size(wal) < 20 * 1024 * 1024, "the WAL grew to %lld bytes",
                  (long long)file_size(wal));

    ck_assert_int_eq(count_rows(d), 5 * 1500 + 4000);
    chati_db_close(d);

    /* Everything is there after a reopen. */
    ck_assert_int_eq(chati_db_open(path, exclusive, migs, 1, &d), CHAT_OK);
    ck_assert_int_eq(count_rows(d), 5 * 1500 + 4000);
    chati_db_close(d);
    chat_test_rmtree(dir);
}

START_TEST(shared_checkpoints_off_the_commit_path)
{
    checkpoints_off_the_commit_path(false);
}
END_TEST

START_TEST(exclusive_checkpoints_off_the_commit_path)
{
    checkpoints_off_the_commit_path(true);
}
END_TEST

static Suite *sqlite_checkpoint_suite(void)
{
    Suite *s = suite_create("sqlite checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, shared_checkpoints_off_the_commit_path);
    tcase_add_test(tc, exclusive_checkpoints_off_the_commit_path);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return chat_test_run(sqlite_checkpoint_suite());
}
