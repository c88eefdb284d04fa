/*
 * Mutual TLS for the RPC transport (tls+tcp:// addresses): both ends present
 * a certificate signed by the deployment's CA and refuse a peer that does
 * not, so only members of the cluster connect at all. Membership is the CA's
 * signature: certificates are not bound to host names, so an instance may
 * come up on any address discovery then announces. nng's TLS engine is
 * mbedtls.
 */
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "rpc/rpc.h"

#define PEM_MAX (1u << 20)

bool chati_rpc_url_is_tls(const char *url)
{
    return url != NULL && strncmp(url, "tls+", 4) == 0;
}

chat_err chati_rpc_tls_config(const chati_rpc_tls *t, bool server, const char *url,
                              nng_tls_config **out)
{
    *out = NULL;
    if (t == NULL || t->ca_file == NULL || t->cert_file == NULL || t->key_file == NULL ||
        !*t->ca_file || !*t->cert_file || !*t->key_file)
        return chati_fail(CHAT_ERR_INVALID_CONFIG,
                          "%s is a TLS address: set rpc.tls_ca, rpc.tls_cert and rpc.tls_key "
                          "(scripts/rpc-certs.sh makes them)", url);
    char *ca = chati_read_small_file(t->ca_file, PEM_MAX);
    char *cert = chati_read_small_file(t->cert_file, PEM_MAX);
    char *key = chati_read_small_file(t->key_file, PEM_MAX);
    nng_tls_config *cfg = NULL;
    chat_err rv = CHAT_OK;
    int e = 0;
    const char *step = "";
    if (ca == NULL || cert == NULL || key == NULL) {
        rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "cannot read %s",
                        ca == NULL ? t->ca_file : cert == NULL ? t->cert_file : t->key_file);
    } else if ((e = nng_tls_config_alloc(&cfg, server ? NNG_TLS_MODE_SERVER
                                                      : NNG_TLS_MODE_CLIENT)) != 0) {
        step = "config";
    } else if ((e = nng_tls_config_ca_chain(cfg, ca, NULL)) != 0) {
        step = t->ca_file;
    } else if ((e = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
        step = t->cert_file;
    } else if ((e = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0) {
        step = "auth mode";
    }
    if (rv == CHAT_OK && e != 0)
        rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "RPC TLS (%s): %s", step, nng_strerror(e));
    chat_free(ca);
    chat_free(cert);
    if (key) {
        memset(key, 0, strlen(key));
        chat_free(key);
    }
    if (rv != CHAT_OK) {
        if (cfg)
            nng_tls_config_free(cfg);
        return rv;
    }
    *out = cfg;
    return CHAT_OK;
}
