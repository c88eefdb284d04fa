/* Error names, sentences, and the per-thread detail text behind chat_errmsg(). */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

static const struct {
    const char *name;
    const char *text;
} err_table[] = {
#define CHAT_ERR_ROW_(code, name, text) {name, text},
    CHAT_ERRORS(CHAT_ERR_ROW_)
#undef CHAT_ERR_ROW_
};

/* Detail of the last failure on this thread: a context is shared by threads,
 * so "per handle" detail is kept per (thread), like errno. */
static _Thread_local char last_detail[512];

const char *chat_strerror(chat_err err)
{
    if ((unsigned)err >= CHATI_ARRAY_LEN(err_table))
        return "unknown error";
    return err_table[err].text;
}

const char *chat_err_name(chat_err err)
{
    if ((unsigned)err >= CHATI_ARRAY_LEN(err_table))
        return "internal_error";
    return err_table[err].name;
}

chat_err chat_err_from_name(const char *name)
{
    if (name == NULL)
        return CHAT_ERR_INTERNAL;
    for (size_t i = 0; i < CHATI_ARRAY_LEN(err_table); i++)
        if (strcmp(err_table[i].name, name) == 0)
            return (chat_err)i;
    return CHAT_ERR_INTERNAL;
}

/* Formatted aside first: callers may wrap the previous detail
 * ("cannot listen on %s: %s", ..., chati_errmsg()), and vsnprintf into the
 * buffer it reads from is undefined (it printed garbage). */
static void set_detail_v(const char *fmt, va_list ap)
{
    char tmp[sizeof last_detail];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    memcpy(last_detail, tmp, sizeof tmp);
}

void chat_set_errmsg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_detail_v(fmt, ap);
    va_end(ap);
}

chat_err chati_fail(chat_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_detail_v(fmt, ap);
    va_end(ap);
    return err;
}

void chati_clear_errmsg(void)
{
    last_detail[0] = '\0';
}

const char *chati_errmsg(void)
{
    return last_detail;
}

const char *chat_last_errmsg(void)
{
    return last_detail;
}

const char *chat_errmsg(const chat_ctx *ctx)
{
    CHATI_UNUSED(ctx);
    return last_detail;
}

void chati_errbuf(chat_err err, char *errbuf, size_t errlen)
{
    if (errbuf == NULL || errlen == 0)
        return;
    snprintf(errbuf, errlen, "%s", last_detail[0] ? last_detail : chat_strerror(err));
}

bool chati_not_found(chat_err err)
{
    switch (err) {
    case CHAT_ERR_NOT_FOUND:
    case CHAT_ERR_TEAM_NOT_FOUND:
    case CHAT_ERR_USER_NOT_FOUND:
    case CHAT_ERR_USERS_NOT_FOUND:
    case CHAT_ERR_CHANNEL_NOT_FOUND:
    case CHAT_ERR_MESSAGE_NOT_FOUND:
    case CHAT_ERR_FILE_NOT_FOUND:
        return true;
    default:
        return false;
    }
}
