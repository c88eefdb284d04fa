/* Random ids ("U4X9K2M7QZ1") and the clocks. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/internal.h"

#define ID_RANDOM_CHARS 10

chat_err chati_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return chati_fail(CHAT_ERR_INTERNAL, "getrandom: %s", strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return CHAT_OK;
}

chat_err chati_id_new(char prefix, char buf[CHAT_ID_SIZE])
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    unsigned char rnd[ID_RANDOM_CHARS];
    chat_err rv = chati_random(rnd, sizeof rnd);
    if (rv != CHAT_OK)
        return rv;
    buf[0] = prefix;
    /* 252 is the largest multiple of 36 below 256: reject above it to stay uniform. */
    for (size_t i = 0; i < ID_RANDOM_CHARS; i++) {
        while (rnd[i] >= 252)
            if ((rv = chati_random(&rnd[i], 1)) != CHAT_OK)
                return rv;
        buf[i + 1] = alphabet[rnd[i] % 36];
    }
    buf[ID_RANDOM_CHARS + 1] = '\0';
    return CHAT_OK;
}

bool chati_id_valid(const char *s, char prefix)
{
    if (s == NULL || s[0] < 'A' || s[0] > 'Z' || (prefix && s[0] != prefix))
        return false;
    size_t n = 1;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) || n >= CHAT_ID_SIZE - 1)
            return false;
    }
    return n >= 3;
}

static int64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t chati_now_us(void)
{
    return clock_us(CLOCK_REALTIME);
}

int64_t chati_now_ms(void)
{
    return clock_us(CLOCK_REALTIME) / 1000;
}

int64_t chati_mono_ms(void)
{
    return clock_us(CLOCK_MONOTONIC) / 1000;
}

int64_t chati_mono_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}
