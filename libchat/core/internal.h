/*
 * libchat/core/internal.h - helpers shared inside libchat (prefix chati_).
 * Not installed; not part of the ABI.
 */
#ifndef CHATI_INTERNAL_H
#define CHATI_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <chat/chat.h>
#include <chat/backend/types.h>

#define CHATI_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CHATI_UNUSED(x) ((void)(x))

/* ---- errors: thread-local detail text (core/error.c) ---- */
/* Sets the detail and returns err, for `return chati_fail(CHAT_ERR_X, "...")`. */
chat_err chati_fail(chat_err err, const char *fmt, ...) CHAT_PRINTF(2, 3);
void chati_clear_errmsg(void);
/* Whether err says "absent": not_found or one of the *_not_found codes that
 * backends may return for their own entity. */
bool chati_not_found(chat_err err);
const char *chati_errmsg(void);
/* Copies the current detail (or chat_strerror(err) when empty) into errbuf. */
void chati_errbuf(chat_err err, char *errbuf, size_t errlen);

/* (core/config.c) The integer value of key: dflt when unset or empty,
 * invalid_config naming the key and its range when it is not an integer in
 * min..max. cfg may be NULL (unset). */
chat_err chati_config_int(const chat_config *cfg, const char *key, int64_t dflt, int64_t min,
                          int64_t max, int64_t *out);

/* ---- growable byte buffer (core/buf.c) ---- */
typedef struct chati_buf {
    char *data;                 /* always NUL-terminated when len > 0 or after reserve */
    size_t len;
    size_t cap;
} chati_buf;
chat_err chati_buf_reserve(chati_buf *b, size_t extra);
chat_err chati_buf_append(chati_buf *b, const void *data, size_t len);
chat_err chati_buf_puts(chati_buf *b, const char *s);
chat_err chati_buf_printf(chati_buf *b, const char *fmt, ...) CHAT_PRINTF(2, 3);
/* Hands the data to the caller (free with chat_free) and resets b. */
char *chati_buf_steal(chati_buf *b);
void chati_buf_free(chati_buf *b);
/* The whole of a file of at most max bytes, NUL-terminated (free with
 * chat_free); NULL when it cannot be read or is larger (errno tells). */
char *chati_read_small_file(const char *path, size_t max);

/* ---- text (core/utf8.c, core/text.c) ---- */
/* Whether s[0..len) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF, no
 * NUL). *chars (may be NULL) gets the number of code points. */
bool chati_utf8_valid(const char *s, size_t len, size_t *chars);
/* Decodes one UTF-8 sequence at s into *cp and returns its length; invalid
 * bytes decode one at a time as U+FFFD, so a scan always advances and stops
 * at the NUL (which decodes as 0, length 1). */
size_t chati_utf8_next(const unsigned char *s, uint32_t *cp);
/* Search tokenising, the same in every message store: scripts written without
 * spaces between words (and Hangul, whose particles attach to words) make a
 * token of each character; spaces separate words. */
bool chati_is_cjk(uint32_t c);
bool chati_is_space(uint32_t c);
/* Validates a required or optional text field: invalid_utf8, or too_long_err
 * when it has more than max_chars code points. */
chat_err chati_check_text(const char *s, size_t max_chars, chat_err too_long_err,
                          const char *what);
/* (core/scopes.c) The bit of a Slack scope ("chat:write"), 0 when unknown. */
uint64_t chati_scope_bit(const char *name);
/* The bits of comma-separated scopes; invalid_arguments naming an unknown
 * one when strict, else unknown ones grant nothing. */
chat_err chati_scopes_parse(const char *csv, bool strict, uint64_t *out);
/* Whether a scope name has Slack's shape (lower case, digits, ':', '.', '_',
 * '-'), known to libchat or not. */
bool chati_scope_name_ok(const char *name);
/* Slack channel-name rules; 0 on success, else an invalid_name_* code. */
chat_err chati_check_channel_name(const char *name);
/* Lower-cases ASCII in place. */
void chati_ascii_lower(char *s);
/* Basic email shape check (local@domain.tld, no spaces, <= 254). */
bool chati_email_valid(const char *email);
/* Parses Slack mentions in text: <@U..> (deduplicated into *users, freed with
 * chat_free), <!channel>/<!everyone> and <!here> into *flags. */
chat_err chati_parse_mentions(const char *text, char (**users)[CHAT_ID_SIZE], size_t *n,
                              unsigned *flags);
/* Emoji reaction name: 1-100 of [a-z0-9_+'-]. */
bool chati_reaction_name_valid(const char *name);
/* Constant-time comparison of two byte strings of equal length. */
bool chati_consttime_eq(const void *a, const void *b, size_t len);

/* ---- ids and time (core/ids.c, core/ts.c) ---- */
/* Fills buf with `prefix` + 10 random [A-Z0-9] characters (e.g. "C4X9..."). */
chat_err chati_id_new(char prefix, char buf[CHAT_ID_SIZE]);
/* Whether s looks like an id with this prefix (prefix 0 = any). */
bool chati_id_valid(const char *s, char prefix);
/* Cryptographically random bytes (getrandom). */
chat_err chati_random(void *buf, size_t len);
int64_t chati_now_us(void);     /* wall clock, microseconds since the epoch */
int64_t chati_now_ms(void);
int64_t chati_mono_ms(void);    /* monotonic clock */
int64_t chati_mono_us(void);

/* ---- condition waits on the monotonic clock (core/sync.c) ---- */
/* Every timed wait in libchat uses these, so a change of the wall clock
 * neither stretches nor cuts a timeout. */
/* pthread_cond_init with CLOCK_MONOTONIC; 0 or an errno. */
int chati_cond_init(pthread_cond_t *cv);
/* Waits on cv (mu held) until signalled or deadline_ms (chati_mono_ms()
 * time): false once the deadline has passed. A cv must come from
 * chati_cond_init. Spurious wake-ups return true: callers loop on their
 * condition. */
bool chati_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms);
/* The same with a deadline in chati_mono_us() time, for waits under 1 ms. */
bool chati_cond_wait_until_us(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_us);
/* Names the calling thread (at most 15 bytes are kept) for top -H, perf and
 * gdb: every thread libchat starts calls it first. */
void chati_thread_name(const char *name);
/* Sleeps ms milliseconds (for polling where nothing can be waited on). */
void chati_sleep_ms(int ms);
/* "SSSSSSSSSS.UUUUUU" <-> microseconds. parse fails on anything else (a
 * shorter fraction like "123.5" is accepted as Slack's clients send it). */
bool chati_ts_parse(const char *s, int64_t *us);
void chati_ts_format(int64_t us, char out[CHAT_TS_SIZE]);
/* Validates an optional ts argument: NULL/"" ok, else must parse (invalid_ts). */
chat_err chati_check_ts(const char *ts, const char *what);

/* ---- encoding (core/encode.c) ---- */
/* Base64url without padding. out needs chati_b64url_len(n) + 1 bytes. */
size_t chati_b64url_len(size_t n);
void chati_b64url_encode(const void *in, size_t n, char *out);
/* Returns false on bad input; *outlen set to decoded length. out needs n bytes. */
bool chati_b64url_decode(const char *in, size_t n, void *out, size_t *outlen);
void chati_hex_encode(const void *in, size_t n, char *out); /* out: 2n + 1 */
/* FNV-1a, 64 bits, of a NUL-terminated string: for in-memory hash tables. */
uint64_t chati_hash_str(const char *s);
/* The value of a hex digit, or -1. */
int chati_hex_digit(char c);
/* Percent-decodes s[0..n) into a new string (chat_free): NULL on a malformed
 * escape (a '%' without two hex digits after it) or no memory. */
char *chati_pct_decode(const char *s, size_t n);
void chati_sha256(const void *data, size_t len, uint8_t out[32]);
void chati_sha256_hex(const void *data, size_t len, char out[65]);
/* (core/hmac.c) HMAC-SHA256 with a key prepared once; the key is immutable
 * after chati_hmac_key_new, so any thread may MAC with it. */
typedef struct chati_hmac_key chati_hmac_key;
chat_err chati_hmac_key_new(const void *key, size_t len, chati_hmac_key **out);
void chati_hmac_key_free(chati_hmac_key *k);
/* HMAC of a[0..alen) followed by b[0..blen) (b may be NULL when blen is 0). */
void chati_hmac(const chati_hmac_key *k, const void *a, size_t alen, const void *b, size_t blen,
                uint8_t out[32]);
/* Pagination cursors: an opaque base64url token around a string key (what the
 * backend resumes after). decode gives invalid_cursor on a token it did not
 * make. Results are freed with chat_free. */
chat_err chati_cursor_encode(const char *key, char **out);
chat_err chati_cursor_decode(const char *cursor, char **key_out);

/* ---- listings (core/paging.c) ---- */
/* Page size from an API limit: 0 = CHAT_DEFAULT_PAGE, else 1..CHAT_MAX_PAGE
 * (invalid_limit otherwise). */
chat_err chati_page_limit(int limit, int *out);
/* Cursors made by chati_page_cursor_out carry a one-letter tag naming the
 * listing, so a cursor from one listing is invalid_cursor on another.
 * cursor_in: NULL/"" gives *key_out = NULL (first page); else the key, freed
 * with chat_free. cursor_out: sets l's next cursor to (tag, key) and has_more. */
chat_err chati_page_cursor_in(const char *cursor, char tag, char **key_out);
chat_err chati_page_cursor_out(char tag, const char *key, chat_list *l);

/* Which way a listing by message ts runs, and so which side its cursor
 * bounds: newest first (history) resumes below the last ts listed, oldest
 * first (thread replies) above it. */
typedef enum chati_page_dir { CHATI_PAGE_NEWEST_FIRST, CHATI_PAGE_OLDEST_FIRST } chati_page_dir;
/* The ts window (integer µs) still to list, as exclusive bounds lo < ts < hi:
 * the API's latest/oldest (NULL or "" = unbounded; themselves included when
 * inclusive) narrowed by a cursor from chati_page_ts_cursor_out with the
 * same tag. invalid_ts for a malformed latest/oldest (checked first), then
 * invalid_cursor as chati_page_cursor_in says or for a key that is not a ts.
 * Every message store reads history and replies this way, so a cursor or a
 * range means the same on each. */
chat_err chati_page_ts_window(const char *latest, const char *oldest, bool inclusive,
                              const char *cursor, char tag, chati_page_dir dir, int64_t *lo,
                              int64_t *hi);
/* Sets l's next cursor to resume after ts (the last one listed) and has_more. */
chat_err chati_page_ts_cursor_out(char tag, int64_t ts, chat_list *l);
/* Cursors of listings that need a tie-breaker after their sort key, the same
 * on every store: "ts,id" (search, newest first across channels, where
 * (ts, channel) is unique) and "a,b" (files: created, then the store's own
 * insertion order). _in: *set false for NULL/"" (first page, outputs left as
 * they are); invalid_cursor as chati_page_cursor_in says or for a key of
 * another shape. _out: sets l's next cursor and has_more. */
chat_err chati_page_ts_id_cursor_in(const char *cursor, char tag, bool *set, int64_t *ts,
                                    char id[CHAT_ID_SIZE]);
chat_err chati_page_ts_id_cursor_out(char tag, int64_t ts, const char *id, chat_list *l);
chat_err chati_page_pair_cursor_in(const char *cursor, char tag, bool *set, int64_t *a,
                                   int64_t *b);
chat_err chati_page_pair_cursor_out(char tag, int64_t a, int64_t b, chat_list *l);

/* ---- entities (core/entity.c) ---- */
void chati_reactions_free(chat_reaction *r, size_t n);
/* Copies an id/ts into a fixed field, refusing what does not fit. */
bool chati_copy_fixed(char *dst, size_t size, const char *src);
/* Copy helpers for the fixed arrays of ids used in entities. */
char (*chati_ids_dup(const char (*ids)[CHAT_ID_SIZE], size_t n))[CHAT_ID_SIZE];

/* ---- backend registry (core/registry.c) ---- */
typedef enum chati_iface {
    CHATI_IFACE_AUTH,
    CHATI_IFACE_USER,
    CHATI_IFACE_CHANNEL,
    CHATI_IFACE_MESSAGE,
    CHATI_IFACE_BROKER,
    CHATI_IFACE_BLOB,
    CHATI_IFACE_PRESENCE,
    CHATI_IFACE_DISCOVERY,
    CHATI_IFACE__COUNT
} chati_iface;
/* The ops table registered for the scheme of url ("sqlite:/x" -> "sqlite"),
 * or NULL (unknown_backend) when none. Only what was added is found: the
 * built-in backends are added by chati_backends_register_builtin()
 * (backends/builtin.h), which chat_open and chat_*_register call first. */
const void *chati_backend_find(chati_iface iface, const char *url);
typedef enum chati_backend_mode {
    CHATI_BACKEND_REPLACE, /* the application's: replaces a table of the same scheme */
    CHATI_BACKEND_KEEP     /* a built-in: leaves a table already there in place */
} chati_backend_mode;
/* Adds ops under scheme once chati_iface_check accepts it. Thread-safe. */
chat_err chati_backend_add(chati_iface iface, const char *scheme, const void *ops,
                           chati_backend_mode mode);
/* (core/iface.c) Checks an ops table of iface against chat/backend/types.h's
 * rules: not_supported when its version is 0 or newer than this library
 * knows, invalid_arguments when a required method of its version is NULL.
 * scheme only names the table in the detail. */
chat_err chati_iface_check(chati_iface iface, const char *scheme, const void *ops);
/* Whether ops has method m, which its interface added in version since. A
 * table of an older version ends before m, so m is not read at all; an
 * optional method may be NULL. Call every optional method through this. */
#define CHATI_HAS(ops, m, since) ((ops)->version >= (since) && (ops)->m != NULL)
/* The part of a URL after "scheme:" (and after "//" when present). */
const char *chati_url_rest(const char *url);

#endif
