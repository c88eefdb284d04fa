/* TLS for the gateway's sockets with mbed TLS 2.28; see net_tls.h. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "core/internal.h"
#include "net_tls.h"

struct gw_tls {
    mbedtls_ssl_config conf;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg; /* locks itself (MBEDTLS_THREADING_C) */
};

struct gw_tls_conn {
    mbedtls_ssl_context ssl;
    int fd;
};

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    gw_tls_conn *c = ctx;
    ssize_t w = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w >= 0)
        return (int)w;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    gw_tls_conn *c = ctx;
    ssize_t r = recv(c->fd, buf, len, MSG_DONTWAIT);
    if (r >= 0)
        return (int)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_READ;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

static chat_err tls_fail(int e, const char *what)
{
    char msg[160];
    mbedtls_strerror(e, msg, sizeof msg);
    return chati_fail(CHAT_ERR_INVALID_CONFIG, "TLS %s: %s", what, msg);
}

chat_err gw_tls_new(const char *cert_pem, const char *key_pem, gw_tls **out)
{
    *out = NULL;
    gw_tls *t = chat_calloc(1, sizeof *t);
    if (t == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "TLS");
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_x509_crt_init(&t->cert);
    mbedtls_pk_init(&t->key);
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    static const unsigned char pers[] = "libchat-gateway";
    int e;
    chat_err rv = CHAT_OK;
    /* PEM parsing wants the terminating NUL counted */
    if ((e = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy, pers,
                                   sizeof pers - 1)) != 0)
        rv = tls_fail(e, "random generator");
    else if ((e = mbedtls_x509_crt_parse(&t->cert, (const unsigned char *)cert_pem,
                                         strlen(cert_pem) + 1)) != 0)
        rv = tls_fail(e, "certificate");
    else if ((e = mbedtls_pk_parse_key(&t->key, (const unsigned char *)key_pem,
                                       strlen(key_pem) + 1, NULL, 0)) != 0)
        rv = tls_fail(e, "key");
    else if ((e = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER,
                                              MBEDTLS_SSL_TRANSPORT_STREAM,
                                              MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
        rv = tls_fail(e, "configuration");
    else if ((e = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key)) != 0)
        rv = tls_fail(e, "certificate and key");
    if (rv != CHAT_OK) {
        gw_tls_free(t);
        return rv;
    }
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
    /* TLS 1.2 at least: older versions are broken */
    mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    *out = t;
    return CHAT_OK;
}

void gw_tls_free(gw_tls *t)
{
    if (t == NULL)
        return;
    mbedtls_ssl_config_free(&t->conf);
    mbedtls_x509_crt_free(&t->cert);
    mbedtls_pk_free(&t->key);
    mbedtls_ctr_drbg_free(&t->drbg);
    mbedtls_entropy_free(&t->entropy);
    chat_free(t);
}

gw_tls_conn *gw_tls_conn_new(gw_tls *t, int fd)
{
    gw_tls_conn *c = chat_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->fd = fd;
    mbedtls_ssl_init(&c->ssl);
    if (mbedtls_ssl_setup(&c->ssl, &t->conf) != 0) {
        mbedtls_ssl_free(&c->ssl);
        chat_free(c);
        return NULL;
    }
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    return c;
}

void gw_tls_conn_free(gw_tls_conn *c)
{
    if (c == NULL)
        return;
    mbedtls_ssl_free(&c->ssl);
    chat_free(c);
}

static long map(int r)
{
    if (r >= 0)
        return r;
    switch (r) {
    case MBEDTLS_ERR_SSL_WANT_READ:
    case MBEDTLS_ERR_SSL_ASYNC_IN_PROGRESS:
    case MBEDTLS_ERR_SSL_CRYPTO_IN_PROGRESS:
        return GW_TLS_WANT_READ;
    case MBEDTLS_ERR_SSL_WANT_WRITE:
        return GW_TLS_WANT_WRITE;
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
    case MBEDTLS_ERR_SSL_CONN_EOF:
        return 0;
    default:
        return GW_TLS_FAILED;
    }
}

long gw_tls_read(gw_tls_conn *c, void *buf, size_t len)
{
    return map(mbedtls_ssl_read(&c->ssl, buf, len));
}

long gw_tls_write(gw_tls_conn *c, const void *buf, size_t len)
{
    long r = map(mbedtls_ssl_write(&c->ssl, buf, len));
    return r == 0 ? GW_TLS_WANT_WRITE : r;
}

bool gw_tls_pending(const gw_tls_conn *c)
{
    return mbedtls_ssl_get_bytes_avail(&c->ssl) > 0;
}
