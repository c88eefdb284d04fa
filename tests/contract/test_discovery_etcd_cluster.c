/*
 * etcd discovery on a 3-member etcd cluster while one member dies (issue 12:
 * "one etcd member" killed -9). Run by tests/fixtures/etcd.sh exec --members
 * 3: CHAT_TEST_ETCD lists every member's client address, CHAT_TEST_ETCD_DIR
 * is the cluster's directory (member<i> in it); argv[1] is the fixture script.
 *
 * An announcer renews its registration (ttl 2 s) every 200 ms, another
 * process looks it up from its watched copy, and a fresh process opens and
 * looks up once a second, for 12 s; at 2 s the leader is killed -9, at 7 s it
 * is restarted. The registration must never vanish, every lookup must answer
 * with it, a registration made after the kill must reach the watcher, the
 * announcer's renewals may fail only for a short window (printed), and the
 * restarted member, asked alone, must know every registration (it caught up).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/discovery.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

#define RUN_MS 12000
#define KILL_AT_MS 2000
#define RESTART_AT_MS 7000
#define TICK_MS 200

static const chat_discovery_ops *D;
static const char *fixture, *dir;
static char url[512], prefix[64];

static void *open_disc(const char *u)
{
    void *impl = NULL;
    ck_assert_chat_ok(D->open(u, contract_cfg(), &impl));
    return impl;
}

/* Whether impl's lookup of service lists address; -1 when the lookup failed. */
static int has(void *impl, const char *service, const char *address)
{
    chat_list *l = NULL;
    if (D->lookup(impl, service, &l) != CHAT_OK)
        return -1;
    int found = 0;
    for (size_t i = 0; i < chat_list_count(l); i++)
        if (strcmp(chat_list_string(l, i), address) == 0)
            found = 1;
    chat_list_free(l);
    return found;
}

/* The member (1..3) that leads, 0 when none answers as leader. */
static int leader(void)
{
    const char *out = contract_sh(
        "for i in 1 2 3; do p=$(cat '%s'/member$i/port); "
        "ETCDCTL_API=3 etcdctl --command-timeout=2s --endpoints=127.0.0.1:$p endpoint status "
        "2>/dev/null | grep -q ', true, false, ' && echo $i; done; true",
        dir);
    return atoi(out);
}

START_TEST(test_member_dies_and_returns)
{
    const char *a_addr = "tcp://127.0.0.1:9101", *late_addr = "tcp://127.0.0.1:9102";
    void *a = open_disc(url), *b = open_disc(url);
    ck_assert_chat_ok(D->announce(a, prefix, a_addr, 2));
    long long t0 = contract_now_ms();
    while (has(b, prefix, a_addr) != 1 && contract_now_ms() - t0 < 3000)
        contract_sleep_ms(10);
    ck_assert_int_eq(has(b, prefix, a_addr), 1);
    int victim = leader();
    ck_assert_msg(victim >= 1, "no member says it leads (etcdctl from etcd-client asks them)");

    int renew_fail = 0, renew_ok = 0, missing = 0, lookup_fail = 0, fresh = 0, fresh_fail = 0;
    long long first_fail = -1, last_fail = -1, slowest_renew = 0, slowest_fresh = 0;
    long long killed = -1, restarted = -1, late_done = -1, late_seen = -1;
    long long next_fresh = 0;
    int late_fail = 0;
    t0 = contract_now_ms();
    for (long long t = 0; t < RUN_MS; t = contract_now_ms() - t0) {
        if (killed < 0 && t >= KILL_AT_MS) {
            /* In the background: renewals and lookups go on through the election. */
            killed = contract_now_ms() - t0;
            contract_sh("bash '%s' kill '%s/member%d' >/dev/null 2>&1 &", fixture, dir, victim);
            printf("etcd: member %d (the leader) killed -9 at %lld ms\n", victim, killed);
        }
        if (restarted < 0 && t >= RESTART_AT_MS) {
            long long r0 = contract_now_ms();
            contract_sh("bash '%s' restart '%s/member%d'", fixture, dir, victim);
            restarted = contract_now_ms() - t0;
            printf("etcd: member %d restarted at %lld ms (took %lld ms)\n", victim, restarted,
                   contract_now_ms() - r0);
        }
        long long r0 = contract_now_ms();
        chat_err rv = D->announce(a, prefix, a_addr, 2);
        long long took = contract_now_ms() - r0;
        slowest_renew = took > slowest_renew ? took : slowest_renew;
        if (rv == CHAT_OK) {
            renew_ok++;
        } else {
            renew_fail++;
            if (first_fail < 0)
                first_fail = r0 - t0;
            last_fail = contract_now_ms() - t0;
        }
        /* A registration made after the kill reaches the other process. */
        if (killed >= 0 && late_done < 0) {
            if (D->announce(a, prefix, late_addr, 30) == CHAT_OK)
                late_done = contract_now_ms() - t0;
            else
                late_fail++;
        }
        if (late_done >= 0 && late_seen < 0 && has(b, prefix, late_addr) == 1)
            late_seen = contract_now_ms() - t0;
        int h = has(b, prefix, a_addr);
        missing += h == 0;
        lookup_fail += h < 0;
        if (t >= next_fresh) {
            next_fresh = t + 1000;
            long long f0 = contract_now_ms();
            void *c = NULL;
            int fh = -1;
            if (D->open(url, contract_cfg(), &c) == CHAT_OK) {
                fh = has(c, prefix, a_addr);
                D->close(c);
            }
            long long ft = contract_now_ms() - f0;
            slowest_fresh = ft > slowest_fresh ? ft : slowest_fresh;
            fresh++;
            fresh_fail += fh != 1;
        }
        contract_sleep_ms(TICK_MS);
    }
    printf("etcd: renewals: %d ok, %d failed (window %lld..%lld ms, kill at %lld), slowest "
           "%lld ms\n",
           renew_ok, renew_fail, first_fail, last_fail, killed, slowest_renew);
    printf("etcd: watcher lookups: %d missed the registration, %d failed; fresh processes: "
           "%d of %d failed, slowest open+lookup %lld ms\n",
           missing, lookup_fail, fresh_fail, fresh, slowest_fresh);
    printf("etcd: a new registration after the kill: %d failed attempts, made at %lld ms "
           "(%lld ms after the kill), seen by the watcher at %lld ms\n",
           late_fail, late_done, late_done - killed, late_seen);
    ck_assert_int_eq(missing, 0);
    ck_assert_int_eq(lookup_fail, 0);
    ck_assert_int_eq(fresh_fail, 0);
    ck_assert_msg(late_done >= 0 && late_seen >= 0, "late registration made %lld, seen %lld",
                  late_done, late_seen);
    /* A lost leader costs an election, not the 2 s lease. */
    ck_assert_msg(renew_fail == 0 || last_fail - first_fail < 2000,
                  "renewals failed from %lld to %lld ms", first_fail, last_fail);

    /* The restarted member, asked alone, knows both registrations. */
    char alone[256];
    snprintf(alone, sizeof alone, "etcd://127.0.0.1:%s/clustertest",
             contract_sh("cat '%s/member%d/port'", dir, victim));
    void *d = open_disc(alone);
    long long c0 = contract_now_ms();
    while ((has(d, prefix, a_addr) != 1 || has(d, prefix, late_addr) != 1) &&
           contract_now_ms() - c0 < 5000)
        contract_sleep_ms(50);
    printf("etcd: the restarted member alone serves both registrations after %lld ms\n",
           contract_now_ms() - c0);
    ck_assert_int_eq(has(d, prefix, a_addr), 1);
    ck_assert_int_eq(has(d, prefix, late_addr), 1);
    D->close(d);
    ck_assert_chat_ok(D->withdraw(a, prefix, late_addr));
    D->close(a);
    D->close(b);
}
END_TEST

int main(int argc, char **argv)
{
    fixture = argc > 1 ? argv[1] : NULL;
    dir = getenv("CHAT_TEST_ETCD_DIR");
    const char *etcd = getenv("CHAT_TEST_ETCD");
    contract_init(1, argv, "etcd://");
    if (fixture == NULL || dir == NULL || etcd == NULL || strchr(etcd, ',') == NULL) {
        fprintf(stderr, "usage: etcd.sh exec --members 3 %s tests/fixtures/etcd.sh\n",
                argv[0]);
        return 2;
    }
    snprintf(url, sizeof url, "etcd://%s/clustertest", etcd);
    D = chati_backend_find(CHATI_IFACE_DISCOVERY, url);
    if (D == NULL) {
        fprintf(stderr, "no discovery backend for %s\n", url);
        return 2;
    }
    contract_uniq("s", prefix, sizeof prefix);
    Suite *s = suite_create("etcd cluster");
    TCase *tc = tcase_create("etcd cluster");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_member_dies_and_returns);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
