/*
 * libchat/backends/mongo/search_text.c - search without a text index.
 *
 * FerretDB 1.x has no $text (nor text indexes), so each message document
 * carries `w`, the distinct words of its text folded to lower case without
 * diacritics, and a query becomes an $and of anchored regexes: "^word" on
 * w for every word (a prefix match on any of the message's words) and the
 * literal CJK run on the text `t` for every run of CJK characters (scripts
 * written without spaces match as substrings). The same rules as the SQLite
 * store's FTS5 (unicode61, remove_diacritics) for what is a word character.
 *
 * Nothing the user types reaches a regex unescaped: query words consist of
 * word characters only (letters and digits, which are no regex syntax) and
 * CJK runs of CJK characters only; everything else separates words.
 */
#include <string.h>

#include "backends/mongo/mongo.h"

static size_t utf8_put(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Letters and digits (outside CJK) make words; punctuation, symbols and
 * emoji separate them. */
static bool is_word(uint32_t c)
{
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (c < 0xC0)
        return c == 0xAA || c == 0xB5 || c == 0xBA;
    if (c == 0xD7 || c == 0xF7 || c == 0xFFFD)
        return false;
    if ((c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F) ||
        (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF0F) ||
        (c >= 0xFF1A && c <= 0xFF20) || (c >= 0x1F000 && c <= 0x1FAFF))
        return false;
    return !chati_is_space(c) && !chati_is_cjk(c);
}

/* Lower case without diacritics for ASCII, Latin-1 and Latin Extended-A
 * (other scripts keep their case: a documented difference from FTS5). */
static uint32_t fold(uint32_t c)
{
    static const char latin1[] = /* 0xC0 - 0xFF */
        "aaaaaaaceeeeiiii" "dnooooo\0ouuuuyts"
        "aaaaaaaceeeeiiii" "dnooooo\0ouuuuyty";
    static const char exta[] = /* 0x100 - 0x17F, pairs upper/lower */
        "aaaaaaccccccccdd" "ddeeeeeeeeeegggg" "gggghhhhiiiiiiii" "iijjjjkkklllllll"
        "lllnnnnnnnnnoooo" "oooorrrrrrssssss" "sstttttt" "uuuuuuuu" "uuuuwwyyyzzzzzzs";
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c >= 0xC0 && c <= 0xFF && latin1[c - 0xC0] != '\0')
        return (uint32_t)(unsigned char)latin1[c - 0xC0];
    if (c >= 0x100 && c <= 0x17F)
        return (uint32_t)(unsigned char)exta[c - 0x100];
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2)
        return c + 32; /* Greek */
    if (c >= 0x410 && c <= 0x42F)
        return c + 32; /* Cyrillic */
    if (c >= 0x400 && c <= 0x40F)
        return c + 80;
    return c;
}

typedef void (*word_fn)(void *arg, const char *s, size_t len, bool cjk);

/* Splits text into folded words and CJK runs. Words longer than the buffer
 * are cut (a prefix still matches them). */
static void scan(const char *text, word_fn fn, void *arg)
{
    char buf[256];
    size_t len = 0;
    int mode = 0; /* 0 none, 1 word, 2 cjk */
    const unsigned char *q = (const unsigned char *)(text != NULL ? text : "");
    for (;;) {
        uint32_t c = 0;
        size_t n = *q ? chati_utf8_next(q, &c) : 0;
        int m = n == 0 ? 0 : chati_is_cjk(c) ? 2 : is_word(c) ? 1 : 0;
        if (m != mode && mode != 0 && len > 0) {
            fn(arg, buf, len, mode == 2);
            len = 0;
        }
        mode = m;
        if (n == 0)
            break;
        if (m != 0 && len + 4 < sizeof buf) {
            if (m == 2)
                memcpy(buf + len, q, n), len += n;
            else
                len += utf8_put(fold(c), buf + len);
        }
        q += n;
    }
}

typedef struct tok_acc {
    bson_t *arr;
    chati_buf seen;             /* "\n" + each word + "\n": a tiny set */
    uint32_t i;
    chat_err rv;
} tok_acc;

static void add_token(void *arg, const char *s, size_t len, bool cjk)
{
    tok_acc *a = arg;
    if (cjk || a->rv != CHAT_OK)
        return; /* CJK is searched in the text itself */
    char key[260];
    key[0] = '\n';
    memcpy(key + 1, s, len);
    key[len + 1] = '\n';
    key[len + 2] = '\0';
    if (a->seen.len > 0 && strstr(a->seen.data, key) != NULL)
        return;
    if ((a->seen.len == 0 && chati_buf_append(&a->seen, "\n", 1) != CHAT_OK) ||
        chati_buf_append(&a->seen, key + 1, len + 1) != CHAT_OK) {
        a->rv = chati_fail(CHAT_ERR_NOMEM, "search index");
        return;
    }
    char idx[16];
    const char *k;
    bson_uint32_to_string(a->i++, &k, idx, sizeof idx);
    bson_append_utf8(a->arr, k, -1, s, (int)len);
}

chat_err chati_mongo_tokens(const char *text, bson_t *arr)
{
    tok_acc a = {arr, {0}, 0, CHAT_OK};
    scan(text, add_token, &a);
    chati_buf_free(&a.seen);
    return a.rv;
}

typedef struct query_acc {
    bson_t *and;
    size_t n;
    chat_err rv;
} query_acc;

static void add_cond(void *arg, const char *s, size_t len, bool cjk)
{
    query_acc *a = arg;
    if (a->rv != CHAT_OK)
        return;
    chati_buf re = {0};
    if ((!cjk && chati_buf_append(&re, "^", 1) != CHAT_OK) ||
        chati_buf_append(&re, s, len) != CHAT_OK) {
        chati_buf_free(&re);
        a->rv = chati_fail(CHAT_ERR_NOMEM, "search query");
        return;
    }
    char idx[16];
    const char *k;
    bson_uint32_to_string((uint32_t)a->n++, &k, idx, sizeof idx);
    bson_t cond, op;
    BSON_APPEND_DOCUMENT_BEGIN(a->and, k, &cond);
    BSON_APPEND_DOCUMENT_BEGIN(&cond, cjk ? "t" : "w", &op);
    BSON_APPEND_UTF8(&op, "$regex", re.data);
    bson_append_document_end(&cond, &op);
    bson_append_document_end(a->and, &cond);
    chati_buf_free(&re);
}

chat_err chati_mongo_query(const char *query, bson_t *and, size_t *n, bool *any)
{
    query_acc a = {and, 0, CHAT_OK};
    *any = false;
    const unsigned char *q = (const unsigned char *)(query != NULL ? query : "");
    while (*q) {
        uint32_t c;
        q += chati_utf8_next(q, &c);
        if (!chati_is_space(c))
            *any = true;
    }
    scan(query, add_cond, &a);
    *n = a.n;
    return a.rv;
}
