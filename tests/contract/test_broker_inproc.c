/*
 * What only the in-process broker promises, beyond the broker contract: an ack
 * means every consumer group has handled the message (so the outbox may drop
 * it), acks never run on the publisher's thread, and close() fails what is
 * still queued with CHAT_ERR_CLOSED.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/broker.h>

#include "contract.h"
#include "core/internal.h"
#include "testutil.h"

#define FLUSH_MS 30000

static const chat_broker_ops *B;
static void *impl;

static void setup(void)
{
    const char *url = contract_begin("inproc");
    B = chati_backend_find(CHATI_IFACE_BROKER, url);
    ck_assert_ptr_nonnull(B);
    ck_assert_str_eq(B->scheme, "inproc");
    ck_assert_chat_ok(B->open(url, contract_cfg(), &impl));
}

static void teardown(void)
{
    if (impl)
        B->close(impl);
    impl = NULL;
    contract_end();
}

enum { N = 500 };
static atomic_int handled[N];
static atomic_int acked[N];
static atomic_int ack_status_bad;
static atomic_int ack_before_handled;
static atomic_int ack_on_publisher;
static pthread_t publisher;
static atomic_bool always_fail;

static chat_err count_handler(void *arg, const chat_broker_msg *msgs, size_t n)
{
    CHATI_UNUSED(arg);
    if (atomic_load(&always_fail))
        return CHAT_ERR_STORAGE;
    for (size_t i = 0; i < n; i++) {
        char buf[16];
        size_t len = msgs[i].len < 15 ? msgs[i].len : 15;
        memcpy(buf, msgs[i].data, len);
        buf[len] = '\0';
        int idx = atoi(buf);
        if (idx >= 0 && idx < N)
            atomic_fetch_add(&handled[idx], 1);
    }
    return CHAT_OK;
}

static void ack_after_cb(void *arg, int64_t tag, chat_err ok)
{
    int groups = (int)(intptr_t)arg;
    if (pthread_equal(pthread_self(), publisher))
        atomic_fetch_add(&ack_on_publisher, 1);
    if (ok != CHAT_OK)
        atomic_fetch_add(&ack_status_bad, 1);
    if (tag < 0 || tag >= N)
        return;
    if (atomic_load(&handled[tag]) < groups)
        atomic_fetch_add(&ack_before_handled, 1);
    atomic_fetch_add(&acked[tag], 1);
}

static void reset(void)
{
    for (int i = 0; i < N; i++) {
        atomic_init(&handled[i], 0);
        atomic_init(&acked[i], 0);
    }
    atomic_init(&ack_status_bad, 0);
    atomic_init(&ack_before_handled, 0);
    atomic_init(&ack_on_publisher, 0);
    atomic_init(&always_fail, false);
    publisher = pthread_self();
}

static void publish_range(const char *topic, int from, int to, chat_broker_ack ack, void *arg)
{
    for (int i = from; i < to; i++) {
        char data[16];
        int len = snprintf(data, sizeof data, "%d", i);
        chat_broker_msg m = {topic, "k", data, (size_t)len};
        int64_t tag = i;
        ck_assert_chat_ok(B->publish(impl, &m, 1, &tag, ack, arg));
    }
}

START_TEST(test_ack_after_every_group_handled)
{
    reset();
    const char *topics[1] = {"message.created"};
    chat_broker_consumer *c1, *c2, *c3;
    /* Two groups, one of them with two members. */
    ck_assert_chat_ok(B->subscribe(impl, "users", topics, 1, 8, count_handler, NULL, &c1));
    ck_assert_chat_ok(B->subscribe(impl, "users", topics, 1, 8, count_handler, NULL, &c2));
    ck_assert_chat_ok(B->subscribe(impl, "gateway", topics, 1, 3, count_handler, NULL, &c3));
    publish_range("message.created", 0, N, ack_after_cb, (void *)(intptr_t)2);
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(atomic_load(&acked[i]), 1);
        ck_assert_int_eq(atomic_load(&handled[i]), 2);
    }
    ck_assert_int_eq(atomic_load(&ack_before_handled), 0);
    ck_assert_int_eq(atomic_load(&ack_status_bad), 0);
    ck_assert_int_eq(atomic_load(&ack_on_publisher), 0);
    B->unsubscribe(impl, c1);
    B->unsubscribe(impl, c2);
    B->unsubscribe(impl, c3);
}
END_TEST

START_TEST(test_ack_without_consumers)
{
    reset();
    publish_range("nobody.listens", 0, 10, ack_after_cb, (void *)(intptr_t)0);
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(atomic_load(&acked[i]), 1);
    ck_assert_int_eq(atomic_load(&ack_on_publisher), 0);
    ck_assert_int_eq(atomic_load(&ack_status_bad), 0);
}
END_TEST

static atomic_int closed_acks, ok_acks;

static void close_ack_cb(void *arg, int64_t tag, chat_err ok)
{
    CHATI_UNUSED(arg);
    CHATI_UNUSED(tag);
    atomic_fetch_add(ok == CHAT_ERR_CLOSED ? &closed_acks : &ok_acks, 1);
}

START_TEST(test_close_fails_queued_messages)
{
    reset();
    atomic_init(&closed_acks, 0);
    atomic_init(&ok_acks, 0);
    atomic_store(&always_fail, true);
    const char *topics[1] = {"t"};
    chat_broker_consumer *c;
    ck_assert_chat_ok(B->subscribe(impl, "g", topics, 1, 8, count_handler, NULL, &c));
    publish_range("t", 0, 20, close_ack_cb, NULL);
    ck_assert_chat_err(B->flush(impl, 100), CHAT_ERR_TIMEOUT);
    /* close() stops the retrying consumer and frees it with the broker. */
    B->close(impl);
    impl = NULL;
    ck_assert_int_eq(atomic_load(&closed_acks), 20);
    ck_assert_int_eq(atomic_load(&ok_acks), 0);
}
END_TEST

START_TEST(test_last_member_leaving_releases_its_queue)
{
    reset();
    atomic_init(&closed_acks, 0);
    atomic_init(&ok_acks, 0);
    atomic_store(&always_fail, true);
    const char *topics[1] = {"t"};
    chat_broker_consumer *c;
    ck_assert_chat_ok(B->subscribe(impl, "g", topics, 1, 8, count_handler, NULL, &c));
    publish_range("t", 0, 20, close_ack_cb, NULL);
    B->unsubscribe(impl, c);
    /* The group is gone: nothing is owed to it any more. */
    ck_assert_chat_ok(B->flush(impl, FLUSH_MS));
    ck_assert_int_eq(atomic_load(&ok_acks), 20);
}
END_TEST

static Suite *inproc_suite(void)
{
    Suite *s = suite_create("inproc broker");
    TCase *tc = tcase_create("inproc");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ack_after_every_group_handled);
    tcase_add_test(tc, test_ack_without_consumers);
    tcase_add_test(tc, test_close_fails_queued_messages);
    tcase_add_test(tc, test_last_member_leaving_releases_its_queue);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    contract_init(argc, argv, "inproc:");
    return chat_test_run(inproc_suite());
}
