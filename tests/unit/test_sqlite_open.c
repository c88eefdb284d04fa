/*
 * Many processes opening one new SQLite database at once (the services of a
 * distributed deployment on one machine share the sqlite: broker file): each
 * open switches the file to WAL, which SQLite may refuse with "database is
 * locked" without waiting in its busy handler. Every open must succeed.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/sqlite/db.h"
#include "core/internal.h"

#define OPENERS 8
#define ROUNDS 15

static const chati_migration migs[] = {
    {1, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"},
};

START_TEST(concurrent_opens_of_a_new_file_all_succeed)
{
    char *dir = chat_test_tmpdir("sqlite-open");
    for (int round = 0; round < ROUNDS; round++) {
        char path[512];
        snprintf(path, sizeof path, "%s/shared-%d.db", dir, round);
        int go[2];
        ck_assert_int_eq(pipe(go), 0);
        pid_t kids[OPENERS];
        for (int i = 0; i < OPENERS; i++) {
            kids[i] = fork();
            ck_assert_int_ge(kids[i], 0);
            if (kids[i] == 0) {
                char c;
                close(go[1]);
                /* All start together: when the parent closes the pipe. */
                if (read(go[0], &c, 1) < 0)
                    _exit(3);
                chati_db *d = NULL;
                chat_err rv = chati_db_open(path, false, migs, 1, &d);
                if (rv != CHAT_OK)
                    fprintf(stderr, "open %d: %s: %s\n", i, chat_err_name(rv),
                            chati_errmsg());
                chati_db_close(d);
                _exit(rv == CHAT_OK ? 0 : 1);
            }
        }
        close(go[0]);
        close(go[1]);
        int failed = 0;
        for (int i = 0; i < OPENERS; i++) {
            int status = 0;
            ck_assert_int_eq(waitpid(kids[i], &status, 0), kids[i]);
            failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        ck_assert_msg(failed == 0, "round %d: %d of %d opens of one new file failed", round,
                      failed, OPENERS);
    }
    chat_test_rmtree(dir);
}
END_TEST

static Suite *sqlite_open_suite(void)
{
    Suite *s = suite_create("sqlite open");
    TCase *tc = tcase_create("open");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, concurrent_opens_of_a_new_file_all_succeed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return chat_test_run(sqlite_open_suite());
}
