/* The recent-ids filter that keeps redelivered events from subscribers. */
#include <stdio.h>

#include "domain/recent_ids.h"
#include "testutil.h"

static void id_of(int i, char out[CHATI_EVENT_ID_SIZE])
{
    snprintf(out, CHATI_EVENT_ID_SIZE, "E%032d", i);
}

START_TEST(remembers_and_forgets_by_generation)
{
    chati_recent_ids r;
    ck_assert(chati_recent_ids_init(&r));
    char id[CHATI_EVENT_ID_SIZE];
    ck_assert(!chati_recent_ids_has(&r, ""));
    chati_recent_ids_add(&r, "");
    ck_assert(!chati_recent_ids_has(&r, ""));
    const int n = 3 * CHATI_RECENT_IDS;
    for (int i = 0; i < n; i++) {
        id_of(i, id);
        ck_assert(!chati_recent_ids_has(&r, id));
        chati_recent_ids_add(&r, id);
        chati_recent_ids_add(&r, id); /* twice: still one entry */
        ck_assert(chati_recent_ids_has(&r, id));
    }
    /* The last CHATI_RECENT_IDS are always there; the first generation is gone. */
    for (int i = n - CHATI_RECENT_IDS; i < n; i++) {
        id_of(i, id);
        ck_assert_msg(chati_recent_ids_has(&r, id), "forgot %d", i);
    }
    for (int i = 0; i < CHATI_RECENT_IDS; i++) {
        id_of(i, id);
        ck_assert_msg(!chati_recent_ids_has(&r, id), "still has %d", i);
    }
    chati_recent_ids_free(&r);
    chati_recent_ids_free(&r); /* twice is harmless */
}
END_TEST

static Suite *recent_suite(void)
{
    Suite *s = suite_create("recent ids");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, remembers_and_forgets_by_generation);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return chat_test_run(recent_suite());
}
