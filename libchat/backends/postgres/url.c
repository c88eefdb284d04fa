/*
 * libchat/backends/postgres/url.c - splits a "postgresql://" URL into what
 * libpq gets and libchat's own parameters (schema, pool_size,
 * statement_timeout_ms), which libpq would refuse as unknown, and a URL per
 * host for the per-host read pools.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/postgres/pool.h"

char *chati_pg_quote_ident(const char *name)
{
    chati_buf b = {0};
    chat_err rv = chati_buf_puts(&b, "\"");
    for (const char *p = name; rv == CHAT_OK && *p; p++)
        rv = *p == '"' ? chati_buf_puts(&b, "\"\"") : chati_buf_append(&b, p, 1);
    if (rv == CHAT_OK)
        rv = chati_buf_puts(&b, "\"");
    if (rv != CHAT_OK) {
        chati_buf_free(&b);
        return NULL;
    }
    return chati_buf_steal(&b);
}

void chati_pg_url_free(chati_pg_url *u)
{
    for (size_t i = 0; i < u->n_hosts; i++) {
        chat_free(u->host_urls[i]);
        chat_free(u->hosts[i]);
    }
    chat_free(u->host_urls);
    chat_free(u->hosts);
    chat_free(u->libpq_url);
    chat_free(u->cluster);
    chat_free(u->schema);
    memset(u, 0, sizeof *u);
}

/* Takes one "key=value" of the query: libchat's are consumed, others kept. */
static chat_err take_param(chati_pg_url *u, const char *p, size_t n, bool *keep)
{
    const char *eq = memchr(p, '=', n);
    size_t klen = eq != NULL ? (size_t)(eq - p) : n;
    const char *v = eq != NULL ? eq + 1 : p + n;
    size_t vlen = (size_t)(p + n - v);
    *keep = true;
    if (klen == 6 && memcmp(p, "schema", 6) == 0) {
        *keep = false;
        chat_free(u->schema);
        if ((u->schema = chati_pct_decode(v, vlen)) == NULL)
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "postgres URL: bad %%-escape in schema");
        /* NAMEDATALEN: longer names would be cut by the server. */
        if (u->schema[0] == '\0' || strlen(u->schema) > 63)
            return chati_fail(CHAT_ERR_INVALID_CONFIG,
                              "postgres URL: schema must be 1-63 bytes");
    } else if ((klen == 9 && memcmp(p, "pool_size", 9) == 0) ||
               (klen == 20 && memcmp(p, "statement_timeout_ms", 20) == 0)) {
        *keep = false;
        bool pool = klen == 9;
        long lo = pool ? 1 : 0, hi = pool ? CHATI_PG_POOL_MAX : 3600000;
        char num[16];
        char *end = NULL;
        long k = -1;
        if (vlen > 0 && vlen < sizeof num) {
            memcpy(num, v, vlen);
            num[vlen] = '\0';
            k = strtol(num, &end, 10);
        }
        if (end == NULL || *end != '\0' || k < lo || k > hi)
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "postgres URL: %s must be %ld-%ld",
                              pool ? "pool_size" : "statement_timeout_ms", lo, hi);
        if (pool)
            u->pool_size = (int)k;
        else
            u->statement_timeout_ms = (int)k;
    }
    return CHAT_OK;
}

/* One URL per host of libpq_url, whose host list spans [from, to). */
static chat_err split_hosts(chati_pg_url *u, size_t from, size_t to)
{
    const char *list = u->libpq_url + from;
    size_t n = 1;
    for (const char *p = list; p < u->libpq_url + to; p++)
        n += *p == ',';
    u->host_urls = chat_calloc(n, sizeof *u->host_urls);
    u->hosts = chat_calloc(n, sizeof *u->hosts);
    if (u->host_urls == NULL || u->hosts == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "postgres URL");
    for (const char *p = list; u->n_hosts < n;) {
        size_t len = strcspn(p, ",/?");
        chati_buf b = {0};
        chat_err rv = chati_buf_append(&b, u->libpq_url, from);
        if (rv == CHAT_OK)
            rv = chati_buf_append(&b, p, len);
        if (rv == CHAT_OK)
            rv = chati_buf_puts(&b, u->libpq_url + to);
        u->host_urls[u->n_hosts] = rv == CHAT_OK ? chati_buf_steal(&b) : NULL;
        chati_buf_free(&b);
        u->hosts[u->n_hosts] = chat_malloc(len + 1);
        if (u->host_urls[u->n_hosts] == NULL || u->hosts[u->n_hosts] == NULL) {
            u->n_hosts++;
            return chati_fail(CHAT_ERR_NOMEM, "postgres URL");
        }
        memcpy(u->hosts[u->n_hosts], p, len);
        u->hosts[u->n_hosts++][len] = '\0';
        p += len + 1;
    }
    return CHAT_OK;
}

chat_err chati_pg_url_parse(const char *url, chati_pg_url *u)
{
    memset(u, 0, sizeof *u);
    u->pool_size = CHATI_PG_POOL_DEFAULT;
    u->statement_timeout_ms = CHATI_PG_STATEMENT_TIMEOUT_DEFAULT;
    const char *rest = NULL;
    if (url != NULL && strncmp(url, "postgresql://", 13) == 0)
        rest = url + 13;
    else if (url != NULL && strncmp(url, "postgres://", 11) == 0)
        rest = url + 11;
    if (rest == NULL)
        return chati_fail(CHAT_ERR_INVALID_CONFIG,
                          "postgres URL must start with postgresql:// (got \"%.60s\")",
                          url != NULL ? url : "");

    size_t auth_len = strcspn(rest, "/?");
    if (auth_len == 0)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "postgres URL names no host");
    const char *hosts = rest;
    const char *at = memchr(rest, '@', auth_len);
    if (at != NULL)
        hosts = at + 1;
    u->multi_host = memchr(hosts, ',', (size_t)(rest + auth_len - hosts)) != NULL;

    chati_buf out = {0};
    chat_err rv = chati_buf_append(&out, url, (size_t)(rest - url) + auth_len);
    if (rv == CHAT_OK && (u->cluster = chat_malloc(auth_len + 1)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "postgres URL");
    if (rv == CHAT_OK) {
        memcpy(u->cluster, rest, auth_len);
        u->cluster[auth_len] = '\0';
    }
    const char *path = rest + auth_len;
    size_t path_len = strcspn(path, "?");
    if (rv == CHAT_OK)
        rv = chati_buf_append(&out, path, path_len);
    const char *q = path + path_len;
    bool first = true;
    if (*q == '?')
        q++;
    while (rv == CHAT_OK && *q != '\0') {
        size_t n = strcspn(q, "&");
        bool keep = true;
        if (n > 0)
            rv = take_param(u, q, n, &keep);
        if (rv == CHAT_OK && keep && n > 0) {
            rv = chati_buf_append(&out, first ? "?" : "&", 1);
            if (rv == CHAT_OK)
                rv = chati_buf_append(&out, q, n);
            first = false;
        }
        q += n;
        if (*q == '&')
            q++;
    }
    if (rv == CHAT_OK && (u->libpq_url = chati_buf_steal(&out)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "postgres URL");
    chati_buf_free(&out);
    /* A mistyped parameter is a configuration error, not an unreachable server. */
    char *err = NULL;
    PQconninfoOption *opts = rv == CHAT_OK ? PQconninfoParse(u->libpq_url, &err) : NULL;
    if (rv == CHAT_OK && opts == NULL) {
        char line[200];
        snprintf(line, sizeof line, "%s", err != NULL ? err : "out of memory");
        line[strcspn(line, "\n")] = '\0';
        rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "postgres URL: %s", line);
    }
    PQconninfoFree(opts);
    PQfreemem(err);
    if (rv == CHAT_OK && u->multi_host)
        rv = split_hosts(u, (size_t)(hosts - url), (size_t)(rest + auth_len - url));
    if (rv != CHAT_OK)
        chati_pg_url_free(u);
    return rv;
}

uint64_t chati_pg_parse_lsn(const char *s)
{
    if (s == NULL)
        return 0;
    char *end = NULL;
    unsigned long long hi = strtoull(s, &end, 16);
    if (end == s || *end != '/')
        return 0;
    const char *lo_s = end + 1;
    unsigned long long lo = strtoull(lo_s, &end, 16);
    if (end == lo_s || *end != '\0' || hi > 0xffffffffULL || lo > 0xffffffffULL)
        return 0;
    return ((uint64_t)hi << 32) | (uint64_t)lo;
}
