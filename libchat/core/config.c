/* chat_config: string keys and values from code, a file or the environment. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

struct chat_config {
    size_t n, cap;
    char **keys;
    char **values;
};

/* Every key libchat reads; prefixes ending in '.' admit a family of keys that
 * servers and backends define for themselves. */
static const char *const known_keys[] = {
    "data_dir", "store.auth", "store.user", "store.channel", "store.message", "broker", "blob",
    "presence", "discovery", "jwt.secret", "jwt.issuer", "jwt.ttl", "files.max_bytes",
    "presence.ttl", "team.name", "team.domain", "argon2.t_cost", "argon2.m_cost_kib",
    "argon2.parallelism", "ratelimit.", "server.", "gateway.", "rpc.", "postgres.", "mongo.",
    "redis.", "kafka.", "s3.", "etcd.", "log.", "sqlite.locking",
};

static bool key_known(const char *key)
{
    for (size_t i = 0; i < CHATI_ARRAY_LEN(known_keys); i++) {
        const char *k = known_keys[i];
        size_t kl = strlen(k);
        if (k[kl - 1] == '.' ? strncmp(key, k, kl) == 0 && key[kl] != '\0'
                             : strcmp(key, k) == 0)
            return true;
    }
    return false;
}

chat_err chat_config_new(chat_config **out)
{
    *out = chat_calloc(1, sizeof **out);
    return *out ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "config");
}

void chat_config_free(chat_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->n; i++) {
        chat_free(cfg->keys[i]);
        chat_free(cfg->values[i]);
    }
    chat_free(cfg->keys);
    chat_free(cfg->values);
    chat_free(cfg);
}

static long find_key(const chat_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->n; i++)
        if (strcmp(cfg->keys[i], key) == 0)
            return (long)i;
    return -1;
}

static chat_err config_put(chat_config *cfg, const char *key, const char *value)
{
    long at = find_key(cfg, key);
    if (value == NULL) {
        if (at >= 0) {
            chat_free(cfg->keys[at]);
            chat_free(cfg->values[at]);
            cfg->keys[at] = cfg->keys[cfg->n - 1];
            cfg->values[at] = cfg->values[cfg->n - 1];
            cfg->n--;
        }
        return CHAT_OK;
    }
    char *v = chat_strdup(value);
    if (v == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "config value");
    if (at >= 0) {
        chat_free(cfg->values[at]);
        cfg->values[at] = v;
        return CHAT_OK;
    }
    if (cfg->n == cfg->cap) {
        size_t cap = cfg->cap ? cfg->cap * 2 : 16;
        char **k = chat_realloc(cfg->keys, cap * sizeof *k);
        if (k)
            cfg->keys = k;
        char **vs = chat_realloc(cfg->values, cap * sizeof *vs);
        if (vs)
            cfg->values = vs;
        if (k == NULL || vs == NULL) {
            chat_free(v);
            return chati_fail(CHAT_ERR_NOMEM, "config");
        }
        cfg->cap = cap;
    }
    cfg->keys[cfg->n] = chat_strdup(key);
    if (cfg->keys[cfg->n] == NULL) {
        chat_free(v);
        return chati_fail(CHAT_ERR_NOMEM, "config key");
    }
    cfg->values[cfg->n++] = v;
    return CHAT_OK;
}

chat_err chat_config_set(chat_config *cfg, const char *key, const char *value, char *errbuf,
                         size_t errlen)
{
    chat_err rv;
    if (cfg == NULL || key == NULL)
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "config and key are required");
    else if (!key_known(key))
        rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "unknown configuration key \"%s\"", key);
    else
        rv = config_put(cfg, key, value);
    if (rv != CHAT_OK)
        chati_errbuf(rv, errbuf, errlen);
    return rv;
}

const char *chat_config_get(const chat_config *cfg, const char *key)
{
    if (cfg == NULL || key == NULL)
        return NULL;
    long at = find_key(cfg, key);
    return at >= 0 ? cfg->values[at] : NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

chat_err chat_config_load_file(chat_config *cfg, const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        chat_err rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "%s: %s", path, strerror(errno));
        chati_errbuf(rv, errbuf, errlen);
        return rv;
    }
    char line[4096];
    int lineno = 0;
    chat_err rv = CHAT_OK;
    while (rv == CHAT_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (*s == '\0')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "%s:%d: expected key = value", path, lineno);
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        if (!key_known(key))
            rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "%s:%d: unknown key \"%s\"", path, lineno,
                            key);
        else
            rv = config_put(cfg, key, value);
    }
    fclose(f);
    if (rv != CHAT_OK)
        chati_errbuf(rv, errbuf, errlen);
    return rv;
}

chat_err chat_config_load_env(chat_config *cfg, char *errbuf, size_t errlen)
{
    /* Each exact key K is read from CHAT_<K upper-cased, '.' as '_'>. */
    for (size_t i = 0; i < CHATI_ARRAY_LEN(known_keys); i++) {
        const char *k = known_keys[i];
        size_t kl = strlen(k);
        if (k[kl - 1] == '.')
            continue;
        char name[128] = "CHAT_";
        for (size_t j = 0; j < kl && j + 6 < sizeof name; j++)
            name[5 + j] = k[j] == '.' ? '_' : (char)toupper((unsigned char)k[j]);
        name[5 + kl] = '\0';
        const char *v = getenv(name);
        if (v == NULL)
            continue;
        chat_err rv = config_put(cfg, k, v);
        if (rv != CHAT_OK) {
            chati_errbuf(rv, errbuf, errlen);
            return rv;
        }
    }
    return CHAT_OK;
}

chat_err chat_config_dup(const chat_config *cfg, chat_config **out)
{
    chat_config *c;
    chat_err rv = chat_config_new(&c);
    for (size_t i = 0; rv == CHAT_OK && cfg && i < cfg->n; i++)
        rv = config_put(c, cfg->keys[i], cfg->values[i]);
    if (rv != CHAT_OK) {
        chat_config_free(c);
        return rv;
    }
    *out = c;
    return CHAT_OK;
}

chat_err chati_config_int(const chat_config *cfg, const char *key, int64_t dflt, int64_t min,
                          int64_t max, int64_t *out)
{
    const char *v = cfg ? chat_config_get(cfg, key) : NULL;
    if (v == NULL || *v == '\0') {
        *out = dflt;
        return CHAT_OK;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n < min || n > max)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "%s must be an integer in %lld..%lld, not \"%s\"",
                          key, (long long)min, (long long)max, v);
    *out = n;
    return CHAT_OK;
}
