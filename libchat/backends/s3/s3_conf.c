/* Parsing of "s3://" URLs; see s3_conf.h for the format. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "backends/s3/s3_conf.h"

#define MIN_PART (5u << 20)     /* S3's smallest part but the last */
#define MAX_PART (1024u << 20)
#define DEFAULT_PART (8u << 20)
#define DEFAULT_TIMEOUT_MS 5000

/* S3's bucket naming rules (the ones that matter for URLs and host names). */
static bool bucket_valid(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '-' ||
              b[i] == '.'))
            return false;
    return strstr(b, "..") == NULL;
}

static chat_err parse_size(const char *v, size_t min, size_t max, const char *what, size_t *out)
{
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (*v == '\0' || *end != '\0' || x < min || x > max)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "s3 URL: %s must be %zu..%zu, not \"%s\"",
                          what, min, max, v);
    *out = (size_t)x;
    return CHAT_OK;
}

static chat_err set_param(chati_s3_conf *c, const char *name, const char *v, char **endpoint,
                          int *style)
{
    size_t x = 0;
    chat_err rv;
    if (strcmp(name, "endpoint") == 0) {
        if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
            return chati_fail(CHAT_ERR_INVALID_CONFIG,
                              "s3 URL: endpoint must start with http:// or https://: %s", v);
        chat_free(*endpoint);
        *endpoint = chat_strdup(v);
    } else if (strcmp(name, "region") == 0) {
        if (*v == '\0')
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "s3 URL: empty region");
        chat_free(c->region);
        c->region = chat_strdup(v);
    } else if (strcmp(name, "style") == 0) {
        if (strcmp(v, "path") == 0)
            *style = 1;
        else if (strcmp(v, "virtual") == 0)
            *style = 0;
        else
            return chati_fail(CHAT_ERR_INVALID_CONFIG,
                              "s3 URL: style must be path or virtual, not \"%s\"", v);
    } else if (strcmp(name, "create_bucket") == 0) {
        c->create_bucket = strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
    } else if (strcmp(name, "part_size") == 0) {
        if ((rv = parse_size(v, MIN_PART, MAX_PART, "part_size", &c->part_size)) != CHAT_OK)
            return rv;
    } else if (strcmp(name, "ca_file") == 0) {
        if (*v == '\0')
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "s3 URL: empty ca_file");
        chat_free(c->ca_file);
        c->ca_file = chat_strdup(v);
    } else if (strcmp(name, "timeout_ms") == 0) {
        if ((rv = parse_size(v, 10, 600000, "timeout_ms", &x)) != CHAT_OK)
            return rv;
        c->timeout_ms = (long)x;
    } else {
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "s3 URL: unknown parameter \"%s\"", name);
    }
    return CHAT_OK;
}

static chat_err parse_query(chati_s3_conf *c, const char *q, char **endpoint, int *style)
{
    while (*q) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        if (eq == NULL)
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "s3 URL: parameter without '=': %.*s",
                              (int)n, q);
        char name[32];
        size_t nl = (size_t)(eq - q);
        if (nl == 0 || nl >= sizeof name)
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "s3 URL: bad parameter %.*s", (int)n, q);
        memcpy(name, q, nl);
        name[nl] = '\0';
        char *v = chati_pct_decode(eq + 1, n - nl - 1);
        if (v == NULL)
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "s3 URL: bad %%-escape in %s", name);
        chat_err rv = set_param(c, name, v, endpoint, style);
        chat_free(v);
        if (rv != CHAT_OK)
            return rv;
        q += n;
        if (*q == '&')
            q++;
    }
    return CHAT_OK;
}

static chat_err credentials(chati_s3_conf *c, const char *ui, size_t n, const chat_config *cfg)
{
    if (ui) {
        const char *colon = memchr(ui, ':', n);
        if (colon == NULL)
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "s3 URL: credentials must be ACCESS:SECRET");
        c->access_key = chati_pct_decode(ui, (size_t)(colon - ui));
        c->secret_key = chati_pct_decode(colon + 1, n - (size_t)(colon - ui) - 1);
        if (c->access_key == NULL || c->secret_key == NULL)
            return chati_fail(CHAT_ERR_INVALID_CONFIG, "s3 URL: bad %%-escape in credentials");
    } else {
        const char *ak = cfg ? chat_config_get(cfg, "s3.access_key") : NULL;
        const char *sk = cfg ? chat_config_get(cfg, "s3.secret_key") : NULL;
        const char *tok = cfg ? chat_config_get(cfg, "s3.session_token") : NULL;
        if (ak == NULL || sk == NULL) {
            ak = getenv("AWS_ACCESS_KEY_ID");
            sk = getenv("AWS_SECRET_ACCESS_KEY");
            tok = getenv("AWS_SESSION_TOKEN");
        }
        if (tok && *tok && (c->session_token = chat_strdup(tok)) == NULL)
            return chati_fail(CHAT_ERR_NOMEM, "s3 config");
        if (ak == NULL || sk == NULL || *ak == '\0' || *sk == '\0')
            return chati_fail(CHAT_ERR_INVALID_CONFIG,
                              "s3: no credentials (URL s3://ACCESS:SECRET@bucket, config "
                              "s3.access_key/s3.secret_key, or AWS_ACCESS_KEY_ID/"
                              "AWS_SECRET_ACCESS_KEY)");
        c->access_key = chat_strdup(ak);
        c->secret_key = chat_strdup(sk);
    }
    if (c->access_key == NULL || c->secret_key == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "s3 config");
    return CHAT_OK;
}

/* base and host from the endpoint and addressing style. */
static chat_err make_base(chati_s3_conf *c, const char *endpoint)
{
    const char *hp = strstr(endpoint, "://") + 3;
    size_t scheme_len = (size_t)(hp - endpoint);
    size_t hn = strcspn(hp, "/?#");
    if (hn == 0)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "s3 URL: endpoint has no host: %s", endpoint);
    if (hp[hn] != '\0' && strcmp(hp + hn, "/") != 0)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "s3 URL: endpoint must not have a path: %s",
                          endpoint);
    chati_buf host = {0}, base = {0};
    chat_err rv = CHAT_OK;
    if (!c->path_style)
        rv = chati_buf_printf(&host, "%s.", c->bucket);
    if (rv == CHAT_OK)
        rv = chati_buf_append(&host, hp, hn);
    if (rv == CHAT_OK)
        rv = chati_buf_printf(&base, "%.*s%s", (int)scheme_len, endpoint, host.data);
    if (rv != CHAT_OK) {
        chati_buf_free(&host);
        chati_buf_free(&base);
        return rv;
    }
    /* curl sends no default port in Host, and we sign what we send. */
    size_t hl = host.len;
    if (scheme_len == 7 && hl > 3 && strcmp(host.data + hl - 3, ":80") == 0)
        host.data[hl - 3] = '\0';
    if (scheme_len == 8 && hl > 4 && strcmp(host.data + hl - 4, ":443") == 0)
        host.data[hl - 4] = '\0';
    c->host = chati_buf_steal(&host);
    c->base = chati_buf_steal(&base);
    return CHAT_OK;
}

chat_err chati_s3_conf_parse(const char *url, const chat_config *cfg, chati_s3_conf *c)
{
    memset(c, 0, sizeof *c);
    c->part_size = DEFAULT_PART;
    c->timeout_ms = DEFAULT_TIMEOUT_MS;
    if (url == NULL || strncmp(url, "s3://", 5) != 0)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "s3 URL must start with s3://: %s",
                          url ? url : "(null)");
    const char *p = url + 5;
    size_t auth_len = strcspn(p, "/?");
    const char *at = NULL;
    for (const char *q = p; q < p + auth_len; q++)
        if (*q == '@')
            at = q;
    char *endpoint = NULL;
    int style = -1;
    chat_err rv = credentials(c, at ? p : NULL, at ? (size_t)(at - p) : 0, cfg);
    const char *b = at ? at + 1 : p;
    size_t bl = (size_t)(p + auth_len - b);
    if (rv == CHAT_OK && (c->bucket = chat_strndup(b, bl)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "s3 config");
    if (rv == CHAT_OK && !bucket_valid(c->bucket))
        rv = chati_fail(CHAT_ERR_INVALID_CONFIG,
                        "s3 URL: \"%s\" is not a valid bucket name (3-63 of a-z 0-9 . -, "
                        "no '_')", c->bucket);
    const char *rest = p + auth_len;
    size_t pl = 0;
    if (*rest == '/') {
        rest++;
        pl = strcspn(rest, "?");
    }
    if (rv == CHAT_OK) {
        chati_buf pre = {0};
        rv = chati_buf_append(&pre, rest, pl);
        if (rv == CHAT_OK && pl > 0 && rest[pl - 1] != '/')
            rv = chati_buf_puts(&pre, "/");
        if (rv == CHAT_OK)
            rv = chati_buf_puts(&pre, "");
        c->prefix = chati_buf_steal(&pre);
        if (rv == CHAT_OK && c->prefix[0] == '/')
            rv = chati_fail(CHAT_ERR_INVALID_CONFIG, "s3 URL: prefix starts with '/'");
    }
    rest += pl;
    if (rv == CHAT_OK && *rest == '?')
        rv = parse_query(c, rest + 1, &endpoint, &style);
    if (rv == CHAT_OK && c->region == NULL && (c->region = chat_strdup("us-east-1")) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "s3 config");
    if (rv == CHAT_OK) {
        bool custom = endpoint != NULL;
        c->path_style = style < 0 ? custom || strchr(c->bucket, '.') != NULL : style == 1;
        chati_buf aws = {0};
        if (!custom)
            rv = chati_buf_printf(&aws, "https://s3.%s.amazonaws.com", c->region);
        if (rv == CHAT_OK)
            rv = make_base(c, custom ? endpoint : aws.data);
        chati_buf_free(&aws);
    }
    chat_free(endpoint);
    if (rv != CHAT_OK)
        chati_s3_conf_free(c);
    return rv;
}

void chati_s3_conf_free(chati_s3_conf *c)
{
    if (c == NULL)
        return;
    chat_free(c->base);
    chat_free(c->host);
    chat_free(c->bucket);
    chat_free(c->prefix);
    chat_free(c->region);
    if (c->secret_key)
        memset(c->secret_key, 0, strlen(c->secret_key));
    chat_free(c->access_key);
    chat_free(c->secret_key);
    chat_free(c->session_token);
    chat_free(c->ca_file);
    memset(c, 0, sizeof *c);
}
