/* Message timestamps: "SSSSSSSSSS.UUUUUU", microseconds since the epoch. */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

bool chati_ts_parse(const char *s, int64_t *us)
{
    if (s == NULL || *s == '\0')
        return false;
    int64_t sec = 0, frac = 0;
    const char *p = s;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (++digits > 11)
            return false;
        sec = sec * 10 + (*p - '0');
    }
    if (digits == 0)
        return false;
    if (*p == '.') {
        p++;
        int fd = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (++fd > 6)
                return false;
            frac = frac * 10 + (*p - '0');
        }
        /* "123.5" means 123.500000, as Slack's clients write it */
        for (int i = fd; i < 6; i++)
            frac *= 10;
    }
    if (*p != '\0')
        return false;
    *us = sec * 1000000 + frac;
    return true;
}

void chati_ts_format(int64_t us, char out[CHAT_TS_SIZE])
{
    if (us < 0)
        us = 0;
    /* 10 digits of seconds last until the year 2286. Written by hand: a
     * page of history formats a few ts per message, and snprintf was 3% of
     * chatd's CPU serving pages of 50. */
    uint64_t sec = (uint64_t)(us / 1000000) % 10000000000u, frac = (uint64_t)(us % 1000000);
    for (int i = 16; i > 10; i--, frac /= 10)
        out[i] = (char)('0' + frac % 10);
    out[10] = '.';
    for (int i = 9; i >= 0; i--, sec /= 10)
        out[i] = (char)('0' + sec % 10);
    out[17] = '\0';
}

chat_err chati_check_ts(const char *ts, const char *what)
{
    int64_t us;
    if (ts == NULL || ts[0] == '\0' || chati_ts_parse(ts, &us))
        return CHAT_OK;
    return chati_fail(CHAT_ERR_INVALID_TS, "%s is not a message timestamp: \"%.40s\"", what, ts);
}
