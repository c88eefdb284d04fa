/* chat_open / chat_close: the backends named by the configuration, the outbox
 * relay and the consumers that keep derived state. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/md.h>

#include "domain/ctx.h"

#define DEFAULT_DATA_DIR "./chat-data"

static const char *cfg_or(const chat_ctx *ctx, const char *key, const char *dflt)
{
    const char *v = chat_config_get(ctx->cfg, key);
    return v && *v ? v : dflt;
}

static chat_err mkdirs(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "data_dir is too long");
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return chati_fail(CHAT_ERR_STORAGE, "mkdir %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return chati_fail(CHAT_ERR_STORAGE, "mkdir %s: %s", tmp, strerror(errno));
    return CHAT_OK;
}

/* The URL for a backend: configured, or the embedded default under data_dir.
 * "none" means this process does not run that domain. */
static chat_err backend_url(const chat_ctx *ctx, const char *key, const char *fmt, char *out,
                            size_t outlen)
{
    const char *v = chat_config_get(ctx->cfg, key);
    const char *dir = cfg_or(ctx, "data_dir", DEFAULT_DATA_DIR);
    int n = v && *v ? snprintf(out, outlen, "%s", v) : snprintf(out, outlen, fmt, dir);
    if (n < 0 || (size_t)n >= outlen)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "%s is too long", key);
    return CHAT_OK;
}

typedef chat_err (*open_fn)(const char *url, const chat_config *cfg, void **impl);

static chat_err open_backend(chat_ctx *ctx, chati_iface iface, const char *key, const char *fmt,
                             const void **ops_out, void **impl_out)
{
    char url[4096];
    chat_err rv = backend_url(ctx, key, fmt, url, sizeof url);
    if (rv != CHAT_OK)
        return rv;
    if (strcmp(url, "none") == 0)
        return CHAT_OK;
    const void *ops = chati_backend_find(iface, url);
    if (ops == NULL)
        return CHAT_ERR_UNKNOWN_SCHEME;
    /* Every ops table starts with version, scheme, open, close. */
    const struct {
        uint32_t version;
        const char *scheme;
        open_fn open;
    } *head = ops;
    rv = head->open(url, ctx->cfg, impl_out);
    if (rv != CHAT_OK) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", chati_errmsg());
        return chati_fail(rv, "%s (%s): %s", key, url, detail);
    }
    *ops_out = ops;
    return CHAT_OK;
}

/* The token signing key (which also signs upload tickets): derived from
 * jwt.secret, which every process of a distributed deployment shares; else, in
 * the process that runs the auth service, a random key kept in data_dir so
 * tokens survive restarts. */
static chat_err load_jwt_key(chat_ctx *ctx)
{
    const char *secret = chat_config_get(ctx->cfg, "jwt.secret");
    if (secret && *secret) {
        if (strlen(secret) < 16)
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "jwt.secret must be at least 16 characters");
        chati_sha256(secret, strlen(secret), ctx->jwt_key);
        ctx->jwt_key_loaded = true;
        return CHAT_OK;
    }
    if (ctx->auth == NULL)
        return CHAT_OK; /* no key here: calls that need one say so */
    char path[4096];
    snprintf(path, sizeof path, "%s/jwt.key", cfg_or(ctx, "data_dir", DEFAULT_DATA_DIR));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, ctx->jwt_key, CHATI_JWT_KEY_BYTES);
        close(fd);
        ctx->jwt_key_loaded = n == CHATI_JWT_KEY_BYTES;
        if (ctx->jwt_key_loaded)
            return CHAT_OK;
        return chati_fail(CHAT_ERR_STORAGE, "%s is damaged; remove it to make a new key", path);
    }
    chat_err rv = chati_random(ctx->jwt_key, CHATI_JWT_KEY_BYTES);
    if (rv != CHAT_OK)
        return rv;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return chati_fail(CHAT_ERR_STORAGE, "%s: %s", tmp, strerror(errno));
    bool ok = write(fd, ctx->jwt_key, CHATI_JWT_KEY_BYTES) == CHATI_JWT_KEY_BYTES &&
              fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0)
        return chati_fail(CHAT_ERR_STORAGE, "writing %s failed", path);
    ctx->jwt_key_loaded = true;
    return CHAT_OK;
}

static chat_err ensure_default_team(chat_ctx *ctx)
{
    if (ctx->users == NULL)
        return CHAT_OK;
    chat_team *t = NULL;
    chat_err rv = ctx->users->get_team_by_domain(ctx->users_impl, NULL, &t);
    if (chati_not_found(rv)) {
        rv = chati_team_create(ctx, cfg_or(ctx, "team.name", "My Workspace"),
                               cfg_or(ctx, "team.domain", "default"), &t);
        /* Another instance of the user service, starting at the same time on
         * the same store, made it first: that is the team we wanted. */
        if (rv == CHAT_ERR_NAME_TAKEN) {
            chati_clear_errmsg();
            chat_team_free(t);
            t = NULL;
            rv = ctx->users->get_team_by_domain(ctx->users_impl, NULL, &t);
        }
    }
    chat_team_free(t);
    return rv;
}

static chat_err ctx_setup(chat_ctx *ctx, const chati_peers *remote)
{
    chat_err rv;
    const char *dir = cfg_or(ctx, "data_dir", DEFAULT_DATA_DIR);
    if ((rv = mkdirs(dir)) != CHAT_OK)
        return rv;
    snprintf(ctx->jwt_issuer, sizeof ctx->jwt_issuer, "%s", cfg_or(ctx, "jwt.issuer", "libchat"));
    int64_t ttl_s = 0;
    if ((rv = chati_config_int(ctx->cfg, "jwt.ttl", 30 * 86400, 60, 3650LL * 86400, &ctx->jwt_ttl_s)) ||
        (rv = chati_config_int(ctx->cfg, "files.max_bytes", 100LL << 20, 1, 1LL << 40,
                      &ctx->files_max_bytes)) ||
        (rv = chati_config_int(ctx->cfg, "presence.ttl", 120, 1, 86400, &ttl_s)) ||
        (rv = chati_argon2_params_from_config(ctx->cfg, &ctx->argon2)))
        return rv;
    ctx->presence_ttl_ms = ttl_s * 1000;

#define OPEN(iface, key, fmt, field)                                                   \
    if ((rv = open_backend(ctx, iface, key, fmt, (const void **)&ctx->field,           \
                           &ctx->field##_impl)) != CHAT_OK)                            \
        return rv;
    OPEN(CHATI_IFACE_AUTH, "store.auth", "sqlite:%s/auth.db", auth);
    OPEN(CHATI_IFACE_USER, "store.user", "sqlite:%s/user.db", users);
    OPEN(CHATI_IFACE_CHANNEL, "store.channel", "sqlite:%s/channel.db", channels);
    OPEN(CHATI_IFACE_MESSAGE, "store.message", "sqlite:%s/message.db", messages);
    OPEN(CHATI_IFACE_BROKER, "broker", "inproc:", broker);
    OPEN(CHATI_IFACE_BLOB, "blob", "file:%s/blobs", blob);
    OPEN(CHATI_IFACE_PRESENCE, "presence", "mem:", presence);
    OPEN(CHATI_IFACE_DISCOVERY, "discovery", "static:", discovery);
#undef OPEN
    chati_peers_init(ctx, remote);

    if ((rv = load_jwt_key(ctx)) != CHAT_OK)
        return rv;
    if (ctx->auth && (rv = chati_jwt_cache_new(&ctx->jwt_cache)) != CHAT_OK)
        return rv;
    if ((rv = ensure_default_team(ctx)) != CHAT_OK)
        return rv;
    if ((rv = chati_consumers_start(ctx)) != CHAT_OK ||
        (rv = chati_app_events_start(ctx)) != CHAT_OK ||
        (rv = chati_presence_start(ctx)) != CHAT_OK ||
        (rv = chati_scheduler_start(ctx)) != CHAT_OK)
        return rv;
    if (ctx->messages && ctx->broker &&
        (rv = chati_outbox_start(ctx->messages, ctx->messages_impl, ctx->broker,
                                 ctx->broker_impl, &ctx->outbox)) != CHAT_OK)
        return rv;
    return CHAT_OK;
}

chat_err chati_ctx_open(chat_ctx **out, const chat_config *cfg, const chati_peers *remote,
                        char *errbuf, size_t errlen)
{
    chati_clear_errmsg();
    if (out == NULL) {
        chati_errbuf(CHAT_ERR_INVALID_ARGUMENTS, errbuf, errlen);
        return CHAT_ERR_INVALID_ARGUMENTS;
    }
    *out = NULL;
    chat_ctx *ctx = chat_calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return CHAT_ERR_NOMEM;
    pthread_mutex_init(&ctx->remote_mu, NULL);
    chat_err rv = chat_config_dup(cfg, &ctx->cfg);
    if (rv == CHAT_OK)
        rv = ctx_setup(ctx, remote);
    if (rv != CHAT_OK) {
        chati_errbuf(rv, errbuf, errlen);
        chat_close(ctx);
        return rv;
    }
    *out = ctx;
    return CHAT_OK;
}

void chat_close(chat_ctx *ctx)
{
    if (ctx == NULL)
        return;
    chati_presence_stop(ctx);
    chati_scheduler_stop(ctx);
    /* The relay stops first: once consumers leave, the broker may acknowledge
     * what they never handled, and those events must stay in the outbox to be
     * published again at the next start. */
    chati_outbox_stop(ctx->outbox);
    chati_consumers_stop(ctx);
    chati_app_events_stop(ctx);
    /* The broker goes before the outbox memory: it may still deliver acks. */
    if (ctx->broker)
        ctx->broker->close(ctx->broker_impl);
    chati_outbox_free(ctx->outbox);
    if (ctx->discovery)
        ctx->discovery->close(ctx->discovery_impl);
    if (ctx->presence)
        ctx->presence->close(ctx->presence_impl);
    if (ctx->blob)
        ctx->blob->close(ctx->blob_impl);
    if (ctx->messages)
        ctx->messages->close(ctx->messages_impl);
    if (ctx->channels)
        ctx->channels->close(ctx->channels_impl);
    if (ctx->users)
        ctx->users->close(ctx->users_impl);
    if (ctx->auth)
        ctx->auth->close(ctx->auth_impl);
    if (ctx->remote && ctx->remote_free)
        ctx->remote_free(ctx->remote);
    chati_jwt_cache_free(ctx->jwt_cache);
    pthread_mutex_destroy(&ctx->remote_mu);
    chat_config_free(ctx->cfg);
    chat_free(ctx);
}

chat_err chat_drain(chat_ctx *ctx, int timeout_ms)
{
    if (ctx == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "no context");
    int64_t deadline = chati_mono_ms() + timeout_ms;
    chat_err rv = CHAT_OK;
    if (ctx->outbox)
        rv = chati_outbox_flush(ctx->outbox, timeout_ms);
    if (rv == CHAT_OK && ctx->broker) {
        int64_t left = deadline - chati_mono_ms();
        rv = ctx->broker->flush(ctx->broker_impl, left > 0 ? (int)left : 0);
    }
    return rv;
}

chat_err chati_ctx_mac(chat_ctx *ctx, const char *purpose, const char *msg, size_t len,
                       char out[CHATI_MAC_B64_LEN + 1])
{
    if (!ctx->jwt_key_loaded)
        return chati_fail(CHAT_ERR_INVALID_CONFIG,
                          "signing needs jwt.secret where the auth service does not run");
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    mbedtls_md_context_t mc;
    uint8_t mac[32];
    mbedtls_md_init(&mc);
    bool ok = md && mbedtls_md_setup(&mc, md, 1) == 0 &&
              mbedtls_md_hmac_starts(&mc, ctx->jwt_key, sizeof ctx->jwt_key) == 0 &&
              mbedtls_md_hmac_update(&mc, (const unsigned char *)purpose, strlen(purpose)) == 0 &&
              mbedtls_md_hmac_update(&mc, (const unsigned char *)"|", 1) == 0 &&
              mbedtls_md_hmac_update(&mc, (const unsigned char *)msg, len) == 0 &&
              mbedtls_md_hmac_finish(&mc, mac) == 0;
    mbedtls_md_free(&mc);
    if (!ok)
        return chati_fail(CHAT_ERR_INTERNAL, "HMAC-SHA256 failed");
    chati_b64url_encode(mac, sizeof mac, out);
    return CHAT_OK;
}

const char *chat_version(void)
{
    return "0.1.0";
}
