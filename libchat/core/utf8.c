/* Strict UTF-8 validation (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF, and no NUL, which C strings cannot carry anyway; and the
 * decoding and character classes the message stores tokenise search text by. */
#include "core/internal.h"

bool chati_utf8_valid(const char *str, size_t len, size_t *chars)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, n = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c == 0)
                return false;
            i++;
        } else if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= len || (s[i + 1] & 0xC0) != 0x80)
                return false;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (i + 2 >= len || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80)
                return false;
            if (c == 0xE0 && s[i + 1] < 0xA0)
                return false; /* overlong */
            if (c == 0xED && s[i + 1] > 0x9F)
                return false; /* surrogate */
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (i + 3 >= len || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
                (s[i + 3] & 0xC0) != 0x80)
                return false;
            if (c == 0xF0 && s[i + 1] < 0x90)
                return false; /* overlong */
            if (c == 0xF4 && s[i + 1] > 0x8F)
                return false; /* > U+10FFFF */
            i += 4;
        } else {
            return false;
        }
        n++;
    }
    if (chars)
        *chars = n;
    return true;
}

size_t chati_utf8_next(const unsigned char *s, uint32_t *cp)
{
    unsigned c = s[0];
    size_t n;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return n;
}

bool chati_is_cjk(uint32_t c)
{
    return (c >= 0x2E80 && c <= 0x2FDF) ||   /* radicals */
           (c >= 0x3040 && c <= 0x31FF) ||   /* kana, bopomofo, compatibility jamo */
           (c >= 0x3400 && c <= 0x4DBF) ||   /* extension A */
           (c >= 0x4E00 && c <= 0x9FFF) ||   /* unified ideographs */
           (c >= 0xAC00 && c <= 0xD7AF) ||   /* hangul syllables */
           (c >= 0xF900 && c <= 0xFAFF) ||   /* compatibility ideographs */
           (c >= 0xFF66 && c <= 0xFF9F) ||   /* half-width katakana */
           (c >= 0x20000 && c <= 0x3134F);   /* extensions B-G */
}

bool chati_is_space(uint32_t c)
{
    return c <= 0x20 || c == 0x7F || c == 0xA0 || c == 0x3000 || (c >= 0x2000 && c <= 0x200B);
}
