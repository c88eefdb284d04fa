/*
 * tests/unit/test_tls_session.c - mutual TLS over non-blocking sockets
 * (rpc/tls_session.c), driven with poll() as a socket loop would: members
 * of the deployment's CA shake hands and move 1 byte, 100 KB and 3 MB both
 * ways at once; a peer with another CA's certificate, or with none, is
 * refused. Certificates come from scripts/rpc-certs.sh (argv[1]), as in
 * test_rpc_tls.c.
 */
#include "testutil.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "rpc/tls_session.h"

#define STALL_MS 10000

static const char *mint_script;
static char *certs;   /* the deployment's CA and members */
static char *foreign; /* another CA and a member of it */

/* Runs before the tests (outside Check): exits when the script fails. */
static void mint(const char *dir, const char *names)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "bash '%s' '%s' %s >/dev/null", mint_script, dir, names);
    if (system(cmd) != 0) {
        fprintf(stderr, "%s failed\n", cmd);
        exit(1);
    }
}

typedef struct files {
    char ca[1024], cert[1024], key[1024];
    chati_rpc_tls t;
} files;

static const chati_rpc_tls *member(files *f, const char *dir, const char *name)
{
    snprintf(f->ca, sizeof f->ca, "%s/ca.crt", dir);
    snprintf(f->cert, sizeof f->cert, "%s/%s.crt", dir, name);
    snprintf(f->key, sizeof f->key, "%s/%s.key", dir, name);
    f->t = (chati_rpc_tls){f->ca, f->cert, f->key};
    return &f->t;
}

static chati_tls_conf *conf(const char *dir, const char *name, bool server)
{
    files f;
    chati_tls_conf *c = NULL;
    ck_assert_chat_ok(chati_tls_conf_new(member(&f, dir, name), server, "tls+tcp://test", &c));
    return c;
}

/* One end of a connection: a session, or (raw) a bare mbed TLS client. */
typedef struct end {
    int fd;
    chati_tls *s;
    mbedtls_ssl_context *raw;
} end;

static int end_handshake(end *e)
{
    if (e->s)
        return chati_tls_handshake(e->s);
    int r = mbedtls_ssl_handshake(e->raw);
    return r == 0 ? 0 : r == MBEDTLS_ERR_SSL_WANT_READ ? CHATI_TLS_WANT_READ
                      : r == MBEDTLS_ERR_SSL_WANT_WRITE ? CHATI_TLS_WANT_WRITE
                                                        : CHATI_TLS_FAILED;
}

static void socket_pair(int fd[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd), 0);
}

/* e[0] the server over fd[0], e[1] a client over fd[1]. */
static void open_pair(end e[2], const chati_tls_conf *srv, const chati_tls_conf *cli)
{
    int fd[2];
    socket_pair(fd);
    memset(e, 0, 2 * sizeof *e);
    e[0].fd = fd[0];
    e[1].fd = fd[1];
    ck_assert_chat_ok(chati_tls_new(srv, fd[0], &e[0].s));
    if (cli)
        ck_assert_chat_ok(chati_tls_new(cli, fd[1], &e[1].s));
}

static void close_pair(end e[2])
{
    for (int i = 0; i < 2; i++) {
        chati_tls_free(e[i].s);
        close(e[i].fd);
    }
}

/* Both handshakes until each has finished: rc[i] 0 or CHATI_TLS_FAILED. A
 * side that fails shuts its socket, as its owner would close it. false when
 * neither side can move for STALL_MS. No Check assertions: threads call it. */
static bool handshake(end e[2], int rc[2])
{
    bool done[2] = {false, false};
    for (;;) {
        struct pollfd pf[2];
        for (int i = 0; i < 2; i++) {
            pf[i] = (struct pollfd){.fd = -1};
            if (done[i])
                continue;
            int r = end_handshake(&e[i]);
            if (r == 0 || r == CHATI_TLS_FAILED) {
                done[i] = true;
                rc[i] = r;
                if (r != 0)
                    shutdown(e[i].fd, SHUT_RDWR);
            } else {
                pf[i] = (struct pollfd){e[i].fd, r == CHATI_TLS_WANT_READ ? POLLIN : POLLOUT, 0};
            }
        }
        if (done[0] && done[1])
            return true;
        if (poll(pf, 2, STALL_MS) <= 0)
            return false;
    }
}

static void shake_hands(end e[2])
{
    int rc[2];
    ck_assert_msg(handshake(e, rc), "handshake stalled");
    ck_assert_msg(rc[0] == 0 && rc[1] == 0, "server %d (%s), client %d (%s)", rc[0],
                  chati_tls_why(e[0].s), rc[1], chati_tls_why(e[1].s));
}

/* One direction of an exchange, from one end's point of view. */
typedef struct flow {
    const uint8_t *out;
    uint8_t *in;
    size_t n, sent, got;
    unsigned write_waits; /* writes that said WANT_* (the socket was full) */
} flow;

/* Writes and reads what it can; the events to wait for. */
static short step(chati_tls *s, flow *f)
{
    short ev = 0;
    while (f->sent < f->n) {
        /* after WANT_*, the same buf and n again: nothing has moved */
        ssize_t r = chati_tls_write(s, f->out + f->sent, f->n - f->sent);
        if (r > 0) {
            ck_assert_uint_le((size_t)r, f->n - f->sent);
            f->sent += (size_t)r;
            continue;
        }
        ck_assert_msg(r == CHATI_TLS_WANT_WRITE || r == CHATI_TLS_WANT_READ, "write %zd: %s", r,
                      chati_tls_why(s));
        f->write_waits++;
        ev |= r == CHATI_TLS_WANT_WRITE ? POLLOUT : POLLIN;
        break;
    }
    while (f->got < f->n) {
        ssize_t r = chati_tls_read(s, f->in + f->got, f->n - f->got);
        if (r > 0) {
            f->got += (size_t)r;
            continue;
        }
        ck_assert_msg(r == CHATI_TLS_WANT_READ || r == CHATI_TLS_WANT_WRITE, "read %zd: %s", r,
                      chati_tls_why(s));
        ev |= r == CHATI_TLS_WANT_WRITE ? POLLOUT : POLLIN;
        break;
    }
    return ev;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/* n bytes each way at once; the write waits of the bigger side. */
static unsigned exchange(end e[2], size_t n)
{
    uint8_t *buf[4];
    for (int i = 0; i < 4; i++)
        ck_assert_ptr_nonnull(buf[i] = malloc(n));
    fill(buf[0], n, 1);
    fill(buf[1], n, 2);
    flow f[2] = {{.out = buf[0], .in = buf[2], .n = n}, {.out = buf[1], .in = buf[3], .n = n}};
    for (;;) {
        struct pollfd pf[2];
        for (int i = 0; i < 2; i++)
            pf[i] = (struct pollfd){e[i].fd, step(e[i].s, &f[i]), 0};
        if (pf[0].events == 0 && pf[1].events == 0)
            break;
        ck_assert_msg(poll(pf, 2, STALL_MS) > 0, "exchange of %zu stalled", n);
    }
    ck_assert_msg(memcmp(buf[0], buf[3], n) == 0, "server to client: %zu bytes differ", n);
    ck_assert_msg(memcmp(buf[1], buf[2], n) == 0, "client to server: %zu bytes differ", n);
    for (int i = 0; i < 4; i++)
        free(buf[i]);
    ck_assert_uint_eq(chati_tls_pending(e[0].s), 0);
    ck_assert_uint_eq(chati_tls_pending(e[1].s), 0);
    return f[0].write_waits > f[1].write_waits ? f[0].write_waits : f[1].write_waits;
}

static bool readable(int fd)
{
    struct pollfd pf = {fd, POLLIN, 0};
    return poll(&pf, 1, 0) == 1;
}

/* Reads up to n bytes, waiting on the socket while it says WANT_READ. */
static ssize_t read_wait(end *e, void *buf, size_t n)
{
    for (;;) {
        ssize_t r = chati_tls_read(e->s, buf, n);
        if (r != CHATI_TLS_WANT_READ)
            return r;
        struct pollfd pf = {e->fd, POLLIN, 0};
        ck_assert_msg(poll(&pf, 1, STALL_MS) == 1, "read stalled");
    }
}

START_TEST(members_exchange_payloads)
{
    chati_tls_conf *srv = conf(certs, "auth", true), *cli = conf(certs, "gateway", false);
    end e[2];
    open_pair(e, srv, cli);
    shake_hands(e);
    ck_assert_int_eq(chati_tls_handshake(e[0].s), 0); /* again: still done */
    ck_assert_str_eq(chati_tls_why(e[0].s), "");
    exchange(e, 1);
    exchange(e, 100 * 1000);
    ck_assert_uint_gt(exchange(e, 3 * 1000 * 1000), 0); /* the socket filled up */
    ck_assert_int_eq(chati_tls_write(e[1].s, "", 0), 0);
    close_pair(e);
    chati_tls_conf_free(srv);
    chati_tls_conf_free(cli);
}
END_TEST

START_TEST(pending_bytes_need_no_readable_socket)
{
    chati_tls_conf *srv = conf(certs, "auth", true), *cli = conf(certs, "gateway", false);
    end e[2];
    open_pair(e, srv, cli);
    shake_hands(e);
    uint8_t out[1000], in[1000];
    fill(out, sizeof out, 3);
    ck_assert_int_eq(chati_tls_read(e[0].s, in, sizeof in), CHATI_TLS_WANT_READ);
    ck_assert_int_eq(chati_tls_write(e[1].s, out, sizeof out), (ssize_t)sizeof out);
    /* one byte of the record: the rest is decrypted and waits inside */
    ck_assert_int_eq(read_wait(&e[0], in, 1), 1);
    ck_assert_uint_eq(chati_tls_pending(e[0].s), sizeof out - 1);
    ck_assert_msg(!readable(e[0].fd), "the socket still has bytes");
    ck_assert_int_eq(chati_tls_read(e[0].s, in + 1, sizeof in), (ssize_t)sizeof out - 1);
    ck_assert_mem_eq(in, out, sizeof out);
    ck_assert_uint_eq(chati_tls_pending(e[0].s), 0);
    ck_assert_int_eq(chati_tls_read(e[0].s, in, sizeof in), CHATI_TLS_WANT_READ);
    /* the client's end of the stream (no close_notify) reads as 0 */
    ck_assert_int_eq(shutdown(e[1].fd, SHUT_WR), 0);
    ck_assert_int_eq(read_wait(&e[0], in, sizeof in), 0);
    close_pair(e);
    chati_tls_conf_free(srv);
    chati_tls_conf_free(cli);
}
END_TEST

/* The handshake of a server conf srv and a client conf cli fails on both
 * sides; the side that refused says why, containing want. */
static void refused(chati_tls_conf *srv, chati_tls_conf *cli, int refuser, const char *want)
{
    end e[2];
    open_pair(e, srv, cli);
    int rc[2];
    ck_assert_msg(handshake(e, rc), "handshake stalled");
    ck_assert_msg(rc[0] == CHATI_TLS_FAILED && rc[1] == CHATI_TLS_FAILED,
                  "server %d, client %d", rc[0], rc[1]);
    const char *why = chati_tls_why(e[refuser].s);
    ck_assert_msg(strstr(why, want) != NULL, "%s: wanted %s", why, want);
    ck_assert_str_ne(chati_tls_why(e[1 - refuser].s), "");
    /* and stays unusable */
    ck_assert_int_eq(chati_tls_write(e[refuser].s, "x", 1), CHATI_TLS_FAILED);
    ck_assert_str_eq(chati_tls_why(e[refuser].s), why);
    close_pair(e);
}

/* The intruder's certificate and key from the other CA, trusting ours: a
 * peer that would accept us, so only our side's check can refuse it. */
static chati_tls_conf *intruder(bool server)
{
    files f, g;
    chati_rpc_tls t = *member(&f, foreign, "intruder");
    t.ca_file = member(&g, certs, "auth")->ca_file;
    chati_tls_conf *c = NULL;
    ck_assert_chat_ok(chati_tls_conf_new(&t, server, "tls+tcp://test", &c));
    return c;
}

START_TEST(other_ca_is_refused)
{
    chati_tls_conf *srv = conf(certs, "auth", true), *cli = conf(certs, "gateway", false);
    chati_tls_conf *in_srv = intruder(true), *in_cli = intruder(false);
    refused(srv, in_cli, 0, "not correctly signed by the trusted CA");
    refused(in_srv, cli, 1, "not correctly signed by the trusted CA");
    chati_tls_conf_free(in_srv);
    chati_tls_conf_free(in_cli);
    /* an outsider that trusts only its own CA refuses us first */
    in_cli = conf(foreign, "intruder", false);
    refused(srv, in_cli, 1, "not correctly signed by the trusted CA");
    chati_tls_conf_free(in_cli);
    chati_tls_conf_free(srv);
    chati_tls_conf_free(cli);
}
END_TEST

static int raw_send(void *ctx, const unsigned char *buf, size_t len)
{
    ssize_t w = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);
    return w >= 0 ? (int)w : errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_WRITE : -1;
}

static int raw_recv(void *ctx, unsigned char *buf, size_t len)
{
    ssize_t r = recv(*(int *)ctx, buf, len, 0);
    return r >= 0 ? (int)r : errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_READ : -1;
}

START_TEST(client_without_certificate_is_refused)
{
    chati_tls_conf *srv = conf(certs, "auth", true);
    /* a client that checks the server but presents nothing of its own */
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    mbedtls_ssl_config cfg;
    mbedtls_ssl_context ssl;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&ca);
    mbedtls_ssl_config_init(&cfg);
    mbedtls_ssl_init(&ssl);
    files f;
    member(&f, certs, "gateway");
    ck_assert_int_eq(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0), 0);
    ck_assert_int_eq(mbedtls_x509_crt_parse_file(&ca, f.ca), 0);
    ck_assert_int_eq(mbedtls_ssl_config_defaults(&cfg, MBEDTLS_SSL_IS_CLIENT,
                                                 MBEDTLS_SSL_TRANSPORT_STREAM,
                                                 MBEDTLS_SSL_PRESET_DEFAULT), 0);
    mbedtls_ssl_conf_rng(&cfg, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ssl_conf_authmode(&cfg, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&cfg, &ca, NULL);
    ck_assert_int_eq(mbedtls_ssl_setup(&ssl, &cfg), 0);
    end e[2];
    open_pair(e, srv, NULL);
    e[1].raw = &ssl;
    mbedtls_ssl_set_bio(&ssl, &e[1].fd, raw_send, raw_recv, NULL);
    int rc[2];
    ck_assert_msg(handshake(e, rc), "handshake stalled");
    ck_assert_msg(rc[0] == CHATI_TLS_FAILED && rc[1] == CHATI_TLS_FAILED, "server %d, client %d",
                  rc[0], rc[1]);
    const char *why = chati_tls_why(e[0].s);
    ck_assert_msg(strstr(why, "Certificate was missing") != NULL, "%s", why);
    close_pair(e);
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&cfg);
    mbedtls_x509_crt_free(&ca);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    chati_tls_conf_free(srv);
}
END_TEST

START_TEST(bad_configuration_says_which_file)
{
    chati_tls_conf *c = (chati_tls_conf *)&c;
    ck_assert_chat_err(chati_tls_conf_new(NULL, true, "tls+tcp://x:1", &c), CHAT_ERR_INVALID_CONFIG);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(chat_last_errmsg(), "rpc.tls_ca") != NULL, "%s", chat_last_errmsg());
    files f;
    chati_rpc_tls t = *member(&f, certs, "auth");
    t.key_file = NULL;
    ck_assert_chat_err(chati_tls_conf_new(&t, false, "u", &c), CHAT_ERR_INVALID_CONFIG);

    t = *member(&f, certs, "nobody");
    ck_assert_chat_err(chati_tls_conf_new(&t, false, "u", &c), CHAT_ERR_INVALID_CONFIG);
    ck_assert_msg(strstr(chat_last_errmsg(), f.cert) && strstr(chat_last_errmsg(), "No such file"),
                  "%s", chat_last_errmsg());

    t = *member(&f, certs, "auth");
    t.cert_file = f.key; /* a key where a certificate should be */
    ck_assert_chat_err(chati_tls_conf_new(&t, true, "u", &c), CHAT_ERR_INVALID_CONFIG);
    ck_assert_msg(strstr(chat_last_errmsg(), f.key) && strstr(chat_last_errmsg(), "X509"), "%s",
                  chat_last_errmsg());

    files g;
    t.cert_file = member(&g, certs, "gateway")->cert_file; /* another member's key */
    ck_assert_chat_err(chati_tls_conf_new(&t, true, "u", &c), CHAT_ERR_INVALID_CONFIG);
    ck_assert_msg(strstr(chat_last_errmsg(), "is not the key of"), "%s", chat_last_errmsg());
    ck_assert_ptr_null(c);
    chati_tls_conf_free(NULL);
    chati_tls_free(NULL);
}
END_TEST

/* Handshakes on many threads sharing the two confs (and their generator). */
static chati_tls_conf *shared_srv, *shared_cli;

static void *shake_many(void *arg)
{
    CHATI_UNUSED(arg);
    for (int i = 0; i < 4; i++) {
        int fd[2], rc[2] = {-1, -1};
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd) != 0)
            return "socketpair";
        end e[2] = {{.fd = fd[0]}, {.fd = fd[1]}};
        bool ok = chati_tls_new(shared_srv, fd[0], &e[0].s) == CHAT_OK &&
                  chati_tls_new(shared_cli, fd[1], &e[1].s) == CHAT_OK && handshake(e, rc) &&
                  rc[0] == 0 && rc[1] == 0;
        close_pair(e);
        if (!ok)
            return "handshake failed";
    }
    return NULL;
}

START_TEST(confs_are_shared_by_threads)
{
    shared_srv = conf(certs, "auth", true);
    shared_cli = conf(certs, "gateway", false);
    pthread_t th[8];
    for (size_t i = 0; i < CHATI_ARRAY_LEN(th); i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, shake_many, NULL), 0);
    for (size_t i = 0; i < CHATI_ARRAY_LEN(th); i++) {
        void *err;
        ck_assert_int_eq(pthread_join(th[i], &err), 0);
        ck_assert_msg(err == NULL, "thread %zu: %s", i, (const char *)err);
    }
    chati_tls_conf_free(shared_srv);
    chati_tls_conf_free(shared_cli);
}
END_TEST

static Suite *tls_session_suite(void)
{
    Suite *s = suite_create("rpc tls session");
    TCase *tc = tcase_create("tls_session");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, members_exchange_payloads);
    tcase_add_test(tc, pending_bytes_need_no_readable_socket);
    tcase_add_test(tc, other_ca_is_refused);
    tcase_add_test(tc, client_without_certificate_is_refused);
    tcase_add_test(tc, bad_configuration_says_which_file);
    tcase_add_test(tc, confs_are_shared_by_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s scripts/rpc-certs.sh\n", argv[0]);
        return 2;
    }
    mint_script = argv[1];
    char certs_tmpl[] = "/tmp/chat-tlscerts.XXXXXX", foreign_tmpl[] = "/tmp/chat-tlsforeign.XXXXXX";
    certs = mkdtemp(certs_tmpl);
    foreign = mkdtemp(foreign_tmpl);
    if (certs == NULL || foreign == NULL) {
        perror("mkdtemp");
        return 1;
    }
    mint(certs, "auth gateway");
    mint(foreign, "intruder");
    int rc = chat_test_run(tls_session_suite());
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", certs, foreign);
    if (system(cmd) != 0)
        fprintf(stderr, "%s failed\n", cmd);
    return rc;
}
