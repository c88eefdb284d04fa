/*
 * tests/unit/test_net.c - the gateway's socket loops (libchat/gateway/net.c)
 * over real loopback TCP: a line protocol (one reply per whole line; bytes of
 * a partial line wait), pause and resume from another thread, sends from
 * other threads (now and deferred) arriving whole and in order, a send queue
 * larger than the kernel's buffers to a slow reader, the queue limit, close
 * after the queue is written, idle timeouts, half-close and stop with sockets
 * open.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "testutil.h"

/* ------------------------------------------------------ the protocol --- */

typedef struct server {
    gw_net *net;
    pthread_mutex_t mu;
    gw_sock *last;              /* the newest socket, referenced */
    atomic_int accepted, closed, eofs;
    atomic_int lines;
    bool pause_after_line;      /* pause after each line until resumed */
    bool send_on_eof;
} server;

static size_t on_data(gw_sock *s, char *data, size_t len)
{
    server *sv = gw_sock_data(s);
    size_t used = 0;
    for (;;) {
        char *nl = memchr(data + used, '\n', len - used);
        if (nl == NULL)
            return used; /* a partial line waits for the rest */
        size_t n = (size_t)(nl - (data + used)) + 1;
        char reply[128];
        int rl = snprintf(reply, sizeof reply, "got %zu\n", n - 1);
        ck_assert(gw_sock_send_copy(s, reply, (size_t)rl));
        atomic_fetch_add(&sv->lines, 1);
        used += n;
        if (sv->pause_after_line) {
            gw_sock_pause(s);
            return used;
        }
    }
}

static void on_close(gw_sock *s)
{
    server *sv = gw_sock_data(s);
    atomic_fetch_add(&sv->closed, 1);
}

static void on_eof(gw_sock *s)
{
    server *sv = gw_sock_data(s);
    atomic_fetch_add(&sv->eofs, 1);
    if (sv->send_on_eof)
        gw_sock_send_copy(s, "bye\n", 4);
    gw_sock_close(s, true);
}

static const gw_sock_ops line_ops = {on_data, on_close, on_eof};

static void on_accept(void *arg, gw_sock *s)
{
    server *sv = arg;
    gw_sock_set_ops(s, &line_ops, sv);
    pthread_mutex_lock(&sv->mu);
    gw_sock_ref(s);
    gw_sock_unref(sv->last);
    sv->last = s;
    pthread_mutex_unlock(&sv->mu);
    atomic_fetch_add(&sv->accepted, 1);
}

static server *start(int threads)
{
    server *sv = calloc(1, sizeof *sv);
    pthread_mutex_init(&sv->mu, NULL);
    gw_net_config cfg = {.host = "127.0.0.1", .port = 0, .threads = threads,
                         .on_accept = on_accept, .arg = sv};
    ck_assert_chat_ok(gw_net_start(&cfg, &sv->net));
    ck_assert_int_gt(gw_net_port(sv->net), 0);
    return sv;
}

static void stop(server *sv)
{
    gw_sock_unref(sv->last);
    sv->last = NULL;
    gw_net_stop(sv->net);
    pthread_mutex_destroy(&sv->mu);
    free(sv);
}

static gw_sock *last_sock(server *sv)
{
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&sv->mu);
        gw_sock *s = sv->last;
        if (s)
            gw_sock_ref(s);
        pthread_mutex_unlock(&sv->mu);
        if (s)
            return s;
        usleep(2000);
    }
    ck_abort_msg("no socket accepted");
    return NULL;
}

/* ---------------------------------------------------------- clients --- */

static int dial(server *sv)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)gw_net_port(sv->net))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void put(int fd, const char *s)
{
    size_t n = strlen(s);
    ck_assert_int_eq(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads exactly n bytes (within 5 s) into buf. */
static void get_n(int fd, char *buf, size_t n)
{
    size_t have = 0;
    while (have < n) {
        struct pollfd p = {fd, POLLIN, 0};
        ck_assert_msg(poll(&p, 1, 5000) == 1, "read timed out after %zu of %zu bytes", have, n);
        ssize_t r = recv(fd, buf + have, n - have, 0);
        ck_assert_msg(r > 0, "connection closed after %zu of %zu bytes", have, n);
        have += (size_t)r;
    }
}

static void expect(int fd, const char *want)
{
    char buf[256] = {0};
    size_t n = strlen(want);
    get_n(fd, buf, n);
    ck_assert_str_eq(buf, want);
}

/* Whether the peer closed (EOF) within ms, having sent nothing more. */
static bool closed_within(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, ms) != 1)
        return false;
    char c;
    return recv(fd, &c, 1, 0) == 0;
}

static void wait_count(atomic_int *v, int want)
{
    for (int i = 0; i < 1000 && atomic_load(v) < want; i++)
        usleep(2000);
    ck_assert_int_eq(atomic_load(v), want);
}

/* ------------------------------------------------------------ tests --- */

START_TEST(test_lines_and_partials)
{
    server *sv = start(2);
    int fd = dial(sv);
    put(fd, "hello\nwor");
    expect(fd, "got 5\n");
    usleep(20000);
    put(fd, "ld!\n\nabc\n");
    expect(fd, "got 6\ngot 0\ngot 3\n");
    close(fd);
    wait_count(&sv->closed, 1);
    stop(sv);
}
END_TEST

START_TEST(test_many_clients)
{
    server *sv = start(2);
    enum { N = 200 };
    int fds[N];
    for (int i = 0; i < N; i++)
        fds[i] = dial(sv);
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < N; i++) {
            char line[64];
            snprintf(line, sizeof line, "%0*d\n", i % 40 + 1, round);
            put(fds[i], line);
        }
        for (int i = 0; i < N; i++) {
            char want[64];
            snprintf(want, sizeof want, "got %d\n", i % 40 + 1);
            expect(fds[i], want);
        }
    }
    wait_count(&sv->lines, N * 5); /* counted after the reply is sent */
    for (int i = 0; i < N; i++)
        close(fds[i]);
    wait_count(&sv->closed, N);
    stop(sv);
}
END_TEST

START_TEST(test_pause_and_resume_from_another_thread)
{
    server *sv = start(1);
    sv->pause_after_line = true;
    int fd = dial(sv);
    put(fd, "a\nbb\nccc\n");
    expect(fd, "got 1\n");
    gw_sock *s = last_sock(sv);
    usleep(50000);
    ck_assert_int_eq(atomic_load(&sv->lines), 1); /* paused: the rest waits */
    gw_sock_resume(s);
    expect(fd, "got 2\n");
    gw_sock_resume(s);
    expect(fd, "got 3\n");
    put(fd, "dddd\n"); /* arrives while paused: read at the resume */
    usleep(50000);
    ck_assert_int_eq(atomic_load(&sv->lines), 3);
    gw_sock_resume(s);
    expect(fd, "got 4\n");
    gw_sock_unref(s);
    close(fd);
    stop(sv);
}
END_TEST

typedef struct sender {
    gw_sock *s;
    int id;
    int count;
    int head_every;             /* a header piece in front of every nth line */
    gw_send_mode mode;
} sender;

static void *send_lines(void *arg)
{
    sender *x = arg;
    for (int i = 0; i < x->count; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "%d:%d\n", x->id, i);
        char *copy = malloc((size_t)n);
        memcpy(copy, line, (size_t)n);
        gw_out o = {.data = copy, .len = (size_t)n, .release = free, .ref = copy};
        if (i % x->head_every == 0) { /* like a WebSocket frame's header */
            o.head[0] = '>';
            o.head_len = 1;
        }
        ck_assert(gw_sock_send(x->s, &o, 0, x->mode));
    }
    return NULL;
}

/* T threads send C lines each on s, half now and half deferred; reads them
 * from fd: every line arrives once, whole, and each thread's in order. */
static void sends_arrive_in_order(int fd, gw_sock *s, int head_every)
{
    enum { T = 4 };
    const int C = head_every == 1 ? 400 : 20000;
    pthread_t th[T];
    sender xs[T];
    for (int t = 0; t < T; t++) {
        xs[t] = (sender){s, t, C, head_every, t % 2 ? GW_SEND_DEFER : GW_SEND_NOW};
        pthread_create(&th[t], NULL, send_lines, &xs[t]);
    }
    int next[T] = {0};
    char buf[65536];
    size_t have = 0;
    int total = 0;
    while (total < T * C) {
        struct pollfd p = {fd, POLLIN, 0};
        ck_assert_msg(poll(&p, 1, 5000) == 1, "stalled after %d lines", total);
        ssize_t r = recv(fd, buf + have, sizeof buf - have, 0);
        ck_assert_int_gt(r, 0);
        have += (size_t)r;
        size_t at = 0;
        for (char *nl; (nl = memchr(buf + at, '\n', have - at)) != NULL; at = (size_t)(nl - buf) + 1) {
            char *line = buf + at;
            if (*line == '>')
                line++;
            int t, i;
            ck_assert_msg(sscanf(line, "%d:%d", &t, &i) == 2, "not a line: %.16s", buf + at);
            ck_assert_msg(t >= 0 && t < T && i == next[t], "thread %d line %d, wanted %d", t, i,
                          t >= 0 && t < T ? next[t] : -1);
            next[t]++;
            total++;
        }
        memmove(buf, buf + at, have - at);
        have -= at;
    }
    for (int t = 0; t < T; t++)
        pthread_join(th[t], NULL);
    /* the writer counts what it wrote once sendmsg is back: maybe after we read it */
    for (int i = 0; i < 200 && gw_sock_queued(s) > 0; i++)
        usleep(5000);
    ck_assert_uint_eq(gw_sock_queued(s), 0);
}

/* Four threads send 20,000 lines each, half now and half deferred: every
 * line arrives once, whole, and each thread's lines in order. */
START_TEST(test_sends_from_threads_arrive_whole_and_in_order)
{
    server *sv = start(2);
    int fd = dial(sv);
    put(fd, "x\n");
    expect(fd, "got 1\n");
    gw_sock *s = last_sock(sv);
    sends_arrive_in_order(fd, s, 3);
    gw_sock_unref(s);
    close(fd);
    stop(sv);
}
END_TEST

/* The queue's ring grows (and the old one is freed) while another thread
 * writes from it: what the writer hands the kernel must not point into the
 * old ring (a piece's header lives there). Fresh sockets, so that the ring
 * grows again and again under a writer. */
START_TEST(test_queue_grows_under_a_writer)
{
    server *sv = start(2);
    for (int round = 0; round < 300; round++) {
        int fd = dial(sv);
        put(fd, "x\n");
        expect(fd, "got 1\n");
        gw_sock *s = last_sock(sv);
        sends_arrive_in_order(fd, s, 1);
        gw_sock_unref(s);
        close(fd);
    }
    stop(sv);
}
END_TEST

/* 16 MiB queued to a reader that waits: more than the kernel holds, so the
 * writer must wait for EPOLLOUT; then the queue limit refuses more. */
START_TEST(test_big_queue_to_a_slow_reader_and_the_limit)
{
    server *sv = start(1);
    int fd = dial(sv);
    put(fd, "x\n");
    expect(fd, "got 1\n");
    gw_sock *s = last_sock(sv);
    enum { PIECE = 65536, N = 256 };
    for (int i = 0; i < N; i++) {
        char *p = malloc(PIECE);
        memset(p, 'a' + i % 26, PIECE);
        gw_out o = {.data = p, .len = PIECE, .release = free, .ref = p};
        ck_assert(gw_sock_send(s, &o, 0, GW_SEND_NOW));
    }
    ck_assert_uint_gt(gw_sock_queued(s), 1u << 20); /* the kernel did not take it all */
    static const char more[] = "more";
    gw_out o = {.data = more, .len = 4};
    ck_assert(!gw_sock_send(s, &o, 1u << 20, GW_SEND_NOW)); /* over the limit */
    usleep(100000);
    char *buf = malloc(PIECE);
    for (int i = 0; i < N; i++) {
        get_n(fd, buf, PIECE);
        for (int k = 0; k < PIECE; k += 4096)
            ck_assert_int_eq(buf[k], 'a' + i % 26);
    }
    free(buf);
    for (int i = 0; i < 100 && gw_sock_queued(s) > 0; i++)
        usleep(2000);
    ck_assert_uint_eq(gw_sock_queued(s), 0);
    gw_sock_unref(s);
    close(fd);
    stop(sv);
}
END_TEST

START_TEST(test_close_with_linger_writes_the_queue_first)
{
    server *sv = start(1);
    int fd = dial(sv);
    put(fd, "x\n");
    expect(fd, "got 1\n");
    gw_sock *s = last_sock(sv);
    for (int i = 0; i < 64; i++) {
        char *p = malloc(65536);
        memset(p, 'z', 65536);
        gw_out o = {.data = p, .len = 65536, .release = free, .ref = p};
        ck_assert(gw_sock_send(s, &o, 0, GW_SEND_NOW));
    }
    gw_sock_close(s, true);
    gw_out late = {.data = "late", .len = 4};
    ck_assert(!gw_sock_send(s, &late, 0, GW_SEND_NOW)); /* closing: refused */
    usleep(50000);
    char *buf = malloc(65536);
    for (int i = 0; i < 64; i++)
        get_n(fd, buf, 65536);
    free(buf);
    ck_assert(closed_within(fd, 2000));
    wait_count(&sv->closed, 1);
    gw_sock_unref(s);
    close(fd);
    stop(sv);
}
END_TEST

/* GW_SEND_LAST: what is queued before it goes out, it goes out, and nothing
 * after it (the hub's WebSocket close frame, with fan-out threads sending). */
START_TEST(test_a_last_send_is_the_last)
{
    server *sv = start(1);
    int fd = dial(sv);
    put(fd, "x\n");
    expect(fd, "got 1\n");
    gw_sock *s = last_sock(sv);
    ck_assert(gw_sock_send_copy(s, "one\n", 4));
    ck_assert(gw_sock_send_last_copy(s, "last\n", 5));
    ck_assert(!gw_sock_send_copy(s, "after\n", 6));
    gw_out late = {.data = "late", .len = 4};
    ck_assert(!gw_sock_send(s, &late, 0, GW_SEND_DEFER));
    ck_assert(!gw_sock_send_last_copy(s, "again\n", 6));
    expect(fd, "one\nlast\n");
    ck_assert(closed_within(fd, 2000));
    wait_count(&sv->closed, 1);
    gw_sock_unref(s);
    close(fd);
    stop(sv);
}
END_TEST

START_TEST(test_close_at_once_and_idle_timeout)
{
    server *sv = start(1);
    int fd = dial(sv);
    put(fd, "x\n");
    expect(fd, "got 1\n");
    gw_sock *s = last_sock(sv);
    gw_sock_close(s, false);
    ck_assert(closed_within(fd, 2000));
    gw_sock_unref(s);
    close(fd);
    wait_count(&sv->closed, 1);

    /* A socket silent for longer than its idle timeout is closed. */
    fd = dial(sv);
    put(fd, "y\n");
    expect(fd, "got 1\n");
    s = last_sock(sv);
    gw_sock_set_idle_timeout(s, 300); /* loop-thread only; nothing else runs on it now */
    ck_assert(!closed_within(fd, 200));
    ck_assert(closed_within(fd, 3000));
    gw_sock_unref(s);
    close(fd);
    wait_count(&sv->closed, 2);
    stop(sv);
}
END_TEST

/* A peer that reads a long answer slowly, sending nothing meanwhile, is not
 * idle: 16 MiB read over ~5 s with a 1 s idle timeout. */
START_TEST(test_slow_reader_of_a_long_answer_is_not_idle)
{
    server *sv = start(1);
    int fd = dial(sv);
    put(fd, "x\n");
    expect(fd, "got 1\n");
    gw_sock *s = last_sock(sv);
    gw_sock_set_idle_timeout(s, 1000);
    enum { PIECE = 65536, N = 256 };
    for (int i = 0; i < N; i++) {
        char *p = malloc(PIECE);
        memset(p, 'a' + i % 26, PIECE);
        gw_out o = {.data = p, .len = PIECE, .release = free, .ref = p};
        ck_assert(gw_sock_send(s, &o, 0, GW_SEND_NOW));
    }
    char *buf = malloc(PIECE);
    for (int i = 0; i < N; i++) {
        get_n(fd, buf, PIECE);
        ck_assert_int_eq(buf[PIECE - 1], 'a' + i % 26);
        usleep(20000);
    }
    free(buf);
    /* and once nothing moves either way, it is idle */
    ck_assert(closed_within(fd, 3000));
    gw_sock_unref(s);
    close(fd);
    stop(sv);
}
END_TEST

START_TEST(test_half_close_still_gets_the_reply)
{
    server *sv = start(1);
    sv->send_on_eof = true;
    int fd = dial(sv);
    put(fd, "last words\n");
    shutdown(fd, SHUT_WR);
    expect(fd, "got 10\nbye\n");
    ck_assert(closed_within(fd, 2000));
    wait_count(&sv->eofs, 1);
    wait_count(&sv->closed, 1);
    close(fd);
    stop(sv);
}
END_TEST

START_TEST(test_stop_with_sockets_open)
{
    server *sv = start(2);
    int fds[20];
    for (int i = 0; i < 20; i++) {
        fds[i] = dial(sv);
        put(fds[i], "x\n");
        expect(fds[i], "got 1\n");
    }
    gw_sock_unref(sv->last);
    sv->last = NULL;
    gw_net_stop(sv->net);
    ck_assert_int_eq(atomic_load(&sv->closed), 20);
    for (int i = 0; i < 20; i++) {
        ck_assert(closed_within(fds[i], 2000));
        close(fds[i]);
    }
    pthread_mutex_destroy(&sv->mu);
    free(sv);
}
END_TEST

START_TEST(test_bad_listen_address)
{
    gw_net *n = NULL;
    gw_net_config cfg = {.host = "localhost", .port = 0, .threads = 1, .on_accept = on_accept};
    ck_assert_chat_err(gw_net_start(&cfg, &n), CHAT_ERR_INVALID_CONFIG);
    ck_assert_ptr_null(n);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("net");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_lines_and_partials);
    tcase_add_test(tc, test_many_clients);
    tcase_add_test(tc, test_pause_and_resume_from_another_thread);
    tcase_add_test(tc, test_sends_from_threads_arrive_whole_and_in_order);
    tcase_add_test(tc, test_queue_grows_under_a_writer);
    tcase_add_test(tc, test_big_queue_to_a_slow_reader_and_the_limit);
    tcase_add_test(tc, test_close_with_linger_writes_the_queue_first);
    tcase_add_test(tc, test_a_last_send_is_the_last);
    tcase_add_test(tc, test_close_at_once_and_idle_timeout);
    tcase_add_test(tc, test_slow_reader_of_a_long_answer_is_not_idle);
    tcase_add_test(tc, test_half_close_still_gets_the_reply);
    tcase_add_test(tc, test_stop_with_sockets_open);
    tcase_add_test(tc, test_bad_listen_address);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
