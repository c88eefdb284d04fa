#include "contract.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/builtin.h"
#include "testutil.h"

static const char *tmpl;
static char *tmpdir;
static char *url;
static chat_config *cfg;
static unsigned counter;

void contract_init(int argc, char **argv, const char *default_url)
{
    tmpl = argc > 1 ? argv[1] : default_url;
    /* The suites look backends up without chat_open, which would add these. */
    chati_backends_register_builtin();
}

const char *contract_template(void)
{
    return tmpl;
}

/* "{tmp}" becomes the test's temp dir, "{uniq}" a name unique to this test
 * that is safe as a database, schema or bucket name (lowercase, digits, '_'). */
const char *contract_begin(const char *tag)
{
    tmpdir = chat_test_tmpdir(tag);
    char uniq[64];
    contract_uniq("t", uniq, sizeof(uniq));
    for (char *c = uniq; *c; c++)
        if (*c == '-')
            *c = '_';
    const struct {
        const char *key;
        const char *val;
    } subst[] = {{"{tmp}", tmpdir}, {"{uniq}", uniq}};
    size_t n = strlen(tmpl) + 1;
    for (size_t i = 0; i < 2; i++)
        for (const char *p = strstr(tmpl, subst[i].key); p; p = strstr(p + 1, subst[i].key))
            n += strlen(subst[i].val);
    url = malloc(n);
    ck_assert_ptr_nonnull(url);
    char *o = url;
    for (const char *p = tmpl; *p;) {
        size_t i = 0;
        while (i < 2 && strncmp(p, subst[i].key, strlen(subst[i].key)) != 0)
            i++;
        if (i < 2) {
            size_t vl = strlen(subst[i].val);
            memcpy(o, subst[i].val, vl);
            o += vl;
            p += strlen(subst[i].key);
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return url;
}

const char *contract_url(void)
{
    return url;
}

const char *contract_tmpdir(void)
{
    return tmpdir;
}

void contract_end(void)
{
    chat_test_rmtree(tmpdir);
    tmpdir = NULL;
    free(url);
    url = NULL;
    chat_config_free(cfg);
    cfg = NULL;
}

const chat_config *contract_cfg(void)
{
    if (cfg == NULL)
        ck_assert_int_eq(chat_config_new(&cfg), CHAT_OK);
    return cfg;
}

void contract_uniq(const char *base, char *buf, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned r = (unsigned)(ts.tv_nsec ^ (ts.tv_sec << 7)) & 0xffffu;
    snprintf(buf, n, "%s-%ld-%u-%04x", base, (long)getpid(), ++counter, r);
}

void contract_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

long long contract_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *contract_sh(const char *fmt, ...)
{
    static char out[512];
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    out[0] = '\0';
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return out;
    if (fgets(out, sizeof out, f) == NULL)
        out[0] = '\0';
    char rest[256];
    while (fgets(rest, sizeof rest, f))
        ;
    int st = pclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    if (st != 0)
        fprintf(stderr, "command failed (%d): %s\n", st, cmd);
    return out;
}

int contract_port_of(const char *some_url)
{
    const char *c = strrchr(some_url, ':');
    return c ? atoi(c + 1) : 0;
}
