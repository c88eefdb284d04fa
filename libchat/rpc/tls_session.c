/* Mutual TLS over a non-blocking socket with mbed TLS 2.28; see tls_session.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "rpc/tls_session.h"

#define PEM_MAX (1u << 20)

struct chati_tls_conf {
    mbedtls_ssl_config ssl;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg; /* shared by every session: see RNG_F */
#if !defined(MBEDTLS_THREADING_C)
    pthread_mutex_t drbg_mu;
#endif
};

struct chati_tls {
    mbedtls_ssl_context ssl;
    int fd;
    int sys_errno;  /* of the send or recv that failed, for why */
    bool failed;    /* mbed TLS contexts are not to be used after a fatal error */
    char why[256];
};

/* Every session draws from the conf's one generator, on any thread. mbed TLS
 * locks the DRBG itself when built with MBEDTLS_THREADING_C (Debian's is);
 * without it, we lock. */
#if defined(MBEDTLS_THREADING_C)
#define RNG_F mbedtls_ctr_drbg_random
#define RNG_P(c) (&(c)->drbg)
#else
static int locked_rng(void *p, unsigned char *out, size_t n)
{
    chati_tls_conf *c = p;
    pthread_mutex_lock(&c->drbg_mu);
    int e = mbedtls_ctr_drbg_random(&c->drbg, out, n);
    pthread_mutex_unlock(&c->drbg_mu);
    return e;
}
#define RNG_F locked_rng
#define RNG_P(c) (c)
#endif

/* Reads path into a NUL-terminated buffer (PEM parsing counts the NUL). */
static chat_err read_pem(const char *url, const char *path, char **out)
{
    errno = 0;
    *out = chati_read_small_file(path, PEM_MAX);
    if (*out == NULL)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "%s: cannot read %s: %s", url, path,
                          errno ? strerror(errno) : "larger than 1 MiB");
    return CHAT_OK;
}

static chat_err pem_fail(const char *url, const char *path, int e)
{
    char msg[160];
    mbedtls_strerror(e, msg, sizeof msg);
    return chati_fail(CHAT_ERR_INVALID_CONFIG, "%s: %s: %s", url, path, msg);
}

static void wipe_free(char *p)
{
    if (p) {
        mbedtls_platform_zeroize(p, strlen(p));
        chat_free(p);
    }
}

/* Parses the three files into c. */
static chat_err load(chati_tls_conf *c, const chati_rpc_tls *t, const char *url)
{
    char *ca = NULL, *cert = NULL, *key = NULL;
    chat_err rv;
    int e = 0;
    if ((rv = read_pem(url, t->ca_file, &ca)) != CHAT_OK ||
        (rv = read_pem(url, t->cert_file, &cert)) != CHAT_OK ||
        (rv = read_pem(url, t->key_file, &key)) != CHAT_OK)
        goto out;
    /* > 0: some certificates in the file did not parse; take none of it */
    if ((e = mbedtls_x509_crt_parse(&c->ca, (const unsigned char *)ca, strlen(ca) + 1)) != 0)
        rv = e > 0 ? chati_fail(CHAT_ERR_INVALID_CONFIG, "%s: %s: %d certificates do not parse",
                                url, t->ca_file, e)
                   : pem_fail(url, t->ca_file, e);
    else if ((e = mbedtls_x509_crt_parse(&c->cert, (const unsigned char *)cert,
                                         strlen(cert) + 1)) != 0)
        rv = e > 0 ? chati_fail(CHAT_ERR_INVALID_CONFIG, "%s: %s: %d certificates do not parse",
                                url, t->cert_file, e)
                   : pem_fail(url, t->cert_file, e);
    else if ((e = mbedtls_pk_parse_key(&c->key, (const unsigned char *)key, strlen(key) + 1,
                                       NULL, 0)) != 0)
        rv = pem_fail(url, t->key_file, e);
    /* caught here, a mismatch reads better than a failed handshake later */
    else if ((e = mbedtls_pk_check_pair(&c->cert.pk, &c->key)) != 0)
        rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "%s: %s is not the key of %s", url,
                        t->key_file, t->cert_file);
out:
    chat_free(ca);
    chat_free(cert);
    wipe_free(key);
    return rv;
}

chat_err chati_tls_conf_new(const chati_rpc_tls *t, bool server, const char *url,
                            chati_tls_conf **out)
{
    *out = NULL;
    if (t == NULL || t->ca_file == NULL || t->cert_file == NULL || t->key_file == NULL ||
        !*t->ca_file || !*t->cert_file || !*t->key_file)
        return chati_fail(CHAT_ERR_INVALID_CONFIG,
                          "%s is a TLS address: set rpc.tls_ca, rpc.tls_cert and rpc.tls_key "
                          "(scripts/rpc-certs.sh makes them)", url);
    chati_tls_conf *c = chat_calloc(1, sizeof *c);
    if (c == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "%s: TLS configuration", url);
    mbedtls_ssl_config_init(&c->ssl);
    mbedtls_x509_crt_init(&c->ca);
    mbedtls_x509_crt_init(&c->cert);
    mbedtls_pk_init(&c->key);
    mbedtls_entropy_init(&c->entropy);
    mbedtls_ctr_drbg_init(&c->drbg);
#if !defined(MBEDTLS_THREADING_C)
    pthread_mutex_init(&c->drbg_mu, NULL);
#endif
    static const unsigned char pers[] = "libchat-rpc-tls";
    char msg[160];
    int e;
    chat_err rv = load(c, t, url);
    if (rv != CHAT_OK)
        goto fail;
    if ((e = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy, pers,
                                   sizeof pers - 1)) != 0 ||
        (e = mbedtls_ssl_config_defaults(&c->ssl,
                                         server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                         MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT)) != 0 ||
        (e = mbedtls_ssl_conf_own_cert(&c->ssl, &c->cert, &c->key)) != 0) {
        mbedtls_strerror(e, msg, sizeof msg);
        rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "%s: TLS configuration: %s", url, msg);
        goto fail;
    }
    mbedtls_ssl_conf_rng(&c->ssl, RNG_F, RNG_P(c));
    mbedtls_ssl_conf_min_version(&c->ssl, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3); /* TLS 1.2 */
    /* Membership is the CA's signature, on both ends; no host name is set, so
     * mbed TLS 2.28 checks none (instances move between addresses). */
    mbedtls_ssl_conf_authmode(&c->ssl, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&c->ssl, &c->ca, NULL);
    *out = c;
    return CHAT_OK;
fail:
    chati_tls_conf_free(c);
    return rv;
}

void chati_tls_conf_free(chati_tls_conf *c)
{
    if (c == NULL)
        return;
    mbedtls_ssl_config_free(&c->ssl);
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_x509_crt_free(&c->cert);
    mbedtls_pk_free(&c->key);
    mbedtls_ctr_drbg_free(&c->drbg);
    mbedtls_entropy_free(&c->entropy);
#if !defined(MBEDTLS_THREADING_C)
    pthread_mutex_destroy(&c->drbg_mu);
#endif
    chat_free(c);
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    chati_tls *s = ctx;
    ssize_t w;
    do
        w = send(s->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (w < 0 && errno == EINTR);
    if (w >= 0)
        return (int)w;  /* mbed TLS never asks for more than a record */
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    s->sys_errno = errno;
    return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
                                                 : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    chati_tls *s = ctx;
    ssize_t r;
    do
        r = recv(s->fd, buf, len, MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r >= 0)
        return (int)r;  /* 0: EOF */
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return MBEDTLS_ERR_SSL_WANT_READ;
    s->sys_errno = errno;
    return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
}

chat_err chati_tls_new(const chati_tls_conf *c, int fd, chati_tls **out)
{
    *out = NULL;
    chati_tls *s = chat_calloc(1, sizeof *s);
    if (s == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "TLS session");
    s->fd = fd;
    mbedtls_ssl_init(&s->ssl);
    int e = mbedtls_ssl_setup(&s->ssl, &c->ssl);
    if (e != 0) {
        mbedtls_ssl_free(&s->ssl);
        chat_free(s);
        /* its only failure is allocating the record buffers */
        return chati_fail(e == MBEDTLS_ERR_SSL_ALLOC_FAILED ? CHAT_ERR_NOMEM : CHAT_ERR_INTERNAL,
                          "TLS session: -0x%04x", (unsigned)-e);
    }
    mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
    *out = s;
    return CHAT_OK;
}

void chati_tls_free(chati_tls *s)
{
    if (s == NULL)
        return;
    mbedtls_ssl_free(&s->ssl);
    chat_free(s);
}

/* The API's code for mbed TLS's e, noting why on a failure. */
static int map(chati_tls *s, int e, const char *op, bool eof_ok)
{
    if (e >= 0)
        return e;
    switch (e) {
    case MBEDTLS_ERR_SSL_WANT_READ:
        return CHATI_TLS_WANT_READ;
    case MBEDTLS_ERR_SSL_WANT_WRITE:
        return CHATI_TLS_WANT_WRITE;
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
    case MBEDTLS_ERR_SSL_CONN_EOF:
        /* the end of the stream once connected; mid-handshake a failure */
        if (eof_ok && s->ssl.state == MBEDTLS_SSL_HANDSHAKE_OVER)
            return 0;
        break;
    default:
        break;
    }
    char msg[128];
    mbedtls_strerror(e, msg, sizeof msg);
    int n = snprintf(s->why, sizeof s->why, "TLS %s: %s", op, msg);
    uint32_t flags = mbedtls_ssl_get_verify_result(&s->ssl);
    if (flags != 0 && flags != (uint32_t)-1 && n > 0 && (size_t)n < sizeof s->why) {
        /* which check the peer's certificate failed */
        char v[128];
        if (mbedtls_x509_crt_verify_info(v, sizeof v, "", flags) > 0) {
            v[strcspn(v, "\n")] = '\0';
            snprintf(s->why + n, sizeof s->why - (size_t)n, " (%s)", v);
        }
    } else if (s->sys_errno != 0 && n > 0 && (size_t)n < sizeof s->why) {
        snprintf(s->why + n, sizeof s->why - (size_t)n, " (%s)", strerror(s->sys_errno));
    }
    s->failed = true;
    return CHATI_TLS_FAILED;
}

int chati_tls_handshake(chati_tls *s)
{
    if (s->failed)
        return CHATI_TLS_FAILED;
    return map(s, mbedtls_ssl_handshake(&s->ssl), "handshake", false);
}

ssize_t chati_tls_read(chati_tls *s, void *buf, size_t n)
{
    if (s->failed)
        return CHATI_TLS_FAILED;
    return map(s, mbedtls_ssl_read(&s->ssl, buf, n), "read", true);
}

ssize_t chati_tls_write(chati_tls *s, const void *buf, size_t n)
{
    if (s->failed)
        return CHATI_TLS_FAILED;
    if (n == 0)
        return 0;
    return map(s, mbedtls_ssl_write(&s->ssl, buf, n), "write", false);
}

size_t chati_tls_pending(const chati_tls *s)
{
    return mbedtls_ssl_get_bytes_avail(&s->ssl);
}

const char *chati_tls_why(const chati_tls *s)
{
    return s->why;
}
