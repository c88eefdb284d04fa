/* Validation and parsing of user-supplied text: limits, names, mentions. */
#include <string.h>

#include "core/internal.h"

chat_err chati_check_text(const char *s, size_t max_chars, chat_err too_long_err,
                          const char *what)
{
    if (s == NULL)
        return CHAT_OK;
    size_t len = strlen(s), chars = 0;
    /* A UTF-8 character is at most 4 bytes: reject absurd sizes before scanning. */
    if (len > max_chars * 4)
        return chati_fail(too_long_err, "%s is longer than %zu characters", what, max_chars);
    if (!chati_utf8_valid(s, len, &chars))
        return chati_fail(CHAT_ERR_INVALID_UTF8, "%s is not valid UTF-8", what);
    if (chars > max_chars)
        return chati_fail(too_long_err, "%s has %zu characters, more than %zu", what, chars,
                          max_chars);
    return CHAT_OK;
}

chat_err chati_check_channel_name(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_NAME_REQUIRED, "a channel name is required");
    size_t len = strlen(name), chars = 0;
    if (len > CHAT_MAX_NAME_CHARS * 4 || !chati_utf8_valid(name, len, &chars))
        return chati_fail(CHAT_ERR_INVALID_NAME_SPECIALS, "channel name is not valid UTF-8");
    if (chars > CHAT_MAX_NAME_CHARS)
        return chati_fail(CHAT_ERR_INVALID_NAME_MAXLENGTH,
                          "channel names are at most %d characters", CHAT_MAX_NAME_CHARS);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        unsigned c = *p;
        if (c >= 0x80)
            continue; /* letters of other scripts are allowed, as in Slack */
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')
            continue;
        return chati_fail(CHAT_ERR_INVALID_NAME_SPECIALS,
                          "channel names may hold lower-case letters, digits, '-' and '_' only");
    }
    return CHAT_OK;
}

void chati_ascii_lower(char *s)
{
    for (; s && *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

bool chati_email_valid(const char *email)
{
    if (email == NULL)
        return false;
    size_t len = strlen(email);
    if (len < 3 || len > CHAT_MAX_EMAIL_CHARS)
        return false;
    const char *at = strchr(email, '@');
    if (at == NULL || at == email || strchr(at + 1, '@') != NULL)
        return false;
    const char *dot = strrchr(at, '.');
    if (dot == NULL || dot == at + 1 || dot[1] == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)email; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '<' || *p == '>' || *p == ',' || *p == '"')
            return false;
    return true;
}

static bool ids_contain(char (*ids)[CHAT_ID_SIZE], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

chat_err chati_parse_mentions(const char *text, char (**users)[CHAT_ID_SIZE], size_t *n,
                              unsigned *flags)
{
    char(*out)[CHAT_ID_SIZE] = NULL;
    size_t count = 0, cap = 0;
    *flags = 0;
    for (const char *p = text ? strchr(text, '<') : NULL; p; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        if (end == NULL)
            break;
        /* <@U123> or <@U123|name>; <!here>, <!channel>, <!everyone> maybe with |label */
        size_t span = strcspn(p + 2, "|>");
        if (p[1] == '!') {
            if (span == 4 && strncmp(p + 2, "here", 4) == 0)
                *flags |= CHAT_MENTION_HERE;
            else if ((span == 7 && strncmp(p + 2, "channel", 7) == 0) ||
                     (span == 8 && strncmp(p + 2, "everyone", 8) == 0))
                *flags |= CHAT_MENTION_CHANNEL;
        } else if (p[1] == '@' && span > 1 && span < CHAT_ID_SIZE) {
            char id[CHAT_ID_SIZE];
            memcpy(id, p + 2, span);
            id[span] = '\0';
            if (chati_id_valid(id, 'U') && !ids_contain(out, count, id)) {
                if (count == cap) {
                    size_t ncap = cap ? cap * 2 : 4;
                    void *np = chat_realloc(out, ncap * sizeof *out);
                    if (np == NULL) {
                        chat_free(out);
                        return chati_fail(CHAT_ERR_NOMEM, "mentions");
                    }
                    out = np;
                    cap = ncap;
                }
                memcpy(out[count++], id, CHAT_ID_SIZE);
            }
        }
        p = end;
    }
    *users = out;
    *n = count;
    return CHAT_OK;
}

bool chati_reaction_name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > 100)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '+' ||
              c == '-' || c == '\'' || c == ':'))
            return false;
    }
    return true;
}

bool chati_consttime_eq(const void *a, const void *b, size_t len)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char acc = 0;
    for (size_t i = 0; i < len; i++)
        acc |= (unsigned char)(x[i] ^ y[i]);
    return acc == 0;
}
