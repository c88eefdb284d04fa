/*
 * Slack's rich parts of a post (chat/message.h, chat_post_opts): blocks,
 * attachments and metadata are checked and compacted here once, so stores
 * and readers take them as they are; a post with blocks and no text gets the
 * text Slack would derive from them.
 */
#include <string.h>

#include <jansson.h>

#include "domain/message_internal.h"

#define MAX_JSON_DEPTH 32
#define MAX_USERNAME_CHARS 80
#define MAX_ICON_EMOJI 100
#define MAX_ICON_URL 2048
/* Slack's text when nothing in the blocks can be shown as text. */
#define NO_TEXT_FALLBACK "This content can't be displayed."

/* Nesting of v (a scalar is 0), counted no further than past the limit. */
static int depth_of(const json_t *v)
{
    int d = 0;
    size_t i;
    const char *k;
    const json_t *e;
    if (json_is_array(v)) {
        json_array_foreach(v, i, e)
        {
            int x = depth_of(e);
            if ((d = x > d ? x : d) > MAX_JSON_DEPTH)
                break;
        }
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, e)
        {
            int x = depth_of(e);
            if ((d = x > d ? x : d) > MAX_JSON_DEPTH)
                break;
        }
    } else {
        return 0;
    }
    return d + 1;
}

/* Parses text as JSON; bad_format when it is not JSON or is too deep or too
 * large (too_large). */
static chat_err parse_json(const char *text, const char *what, chat_err bad_format,
                           chat_err too_large, json_t **out)
{
    size_t len = strlen(text);
    if (len > 4 * (size_t)CHAT_MAX_RICH_BYTES) /* even compacted it would not fit */
        return chati_fail(too_large, "%s is over %d bytes", what, CHAT_MAX_RICH_BYTES);
    json_error_t err;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, &err);
    if (v == NULL)
        return chati_fail(bad_format, "%s is not JSON: %.80s", what, err.text);
    if (depth_of(v) > MAX_JSON_DEPTH) {
        json_decref(v);
        return chati_fail(bad_format, "%s nests deeper than %d", what, MAX_JSON_DEPTH);
    }
    *out = v;
    return CHAT_OK;
}

/* v as compact JSON in *out (chat_malloc'd), or too_large. */
static chat_err compact(const json_t *v, const char *what, chat_err too_large, char **out)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "%s", what);
    size_t len = strlen(s);
    chat_err rv = CHAT_OK;
    if (len > CHAT_MAX_RICH_BYTES)
        rv = chati_fail(too_large, "%s is over %d bytes", what, CHAT_MAX_RICH_BYTES);
    else if ((*out = chat_malloc(len + 1)) == NULL)
        rv = chati_fail(CHAT_ERR_NOMEM, "%s", what);
    else
        memcpy(*out, s, len + 1);
    free(s); /* jansson's allocator */
    return rv;
}

/* An array of objects, each with a string member `key` when key is set. */
static chat_err check_items(const json_t *v, const char *what, size_t max, const char *key,
                            chat_err bad, chat_err too_many)
{
    if (json_array_size(v) > max)
        return chati_fail(too_many, "%s: more than %zu", what, max);
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_object(e))
            return chati_fail(bad, "%s[%zu] is not an object", what, i);
        if (key && !json_is_string(json_object_get(e, key)))
            return chati_fail(bad, "%s[%zu] has no %s", what, i, key);
    }
    return CHAT_OK;
}

/* ---------------------------------------------------- text from blocks --- */

static void put_text(chati_buf *b, const char *s)
{
    if (s == NULL || *s == '\0')
        return;
    if (b->len > 0)
        chati_buf_puts(b, "\n");
    chati_buf_puts(b, s);
}

static const char *text_of(const json_t *obj) /* a text object's "text" */
{
    return json_string_value(json_object_get(json_object_get(obj, "text"), "text"));
}

/* A rich_text element tree, written as Slack's text would hold it. */
static void rich_text(chati_buf *b, const json_t *elements, int depth)
{
    size_t i;
    const json_t *e;
    if (depth > MAX_JSON_DEPTH)
        return;
    json_array_foreach(elements, i, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *s;
        if (type == NULL)
            continue;
        if (strcmp(type, "text") == 0) {
            chati_buf_puts(b, (s = json_string_value(json_object_get(e, "text"))) ? s : "");
        } else if (strcmp(type, "link") == 0) {
            s = json_string_value(json_object_get(e, "text"));
            chati_buf_puts(b, s ? s : (s = json_string_value(json_object_get(e, "url"))) ? s : "");
        } else if (strcmp(type, "user") == 0 || strcmp(type, "channel") == 0) {
            const char *id = json_string_value(json_object_get(e, type[0] == 'u' ? "user_id"
                                                                               : "channel_id"));
            if (id)
                chati_buf_printf(b, "<%s%s>", type[0] == 'u' ? "@" : "#", id);
        } else if (strcmp(type, "emoji") == 0) {
            if ((s = json_string_value(json_object_get(e, "name"))))
                chati_buf_printf(b, ":%s:", s);
        } else if (strcmp(type, "broadcast") == 0) {
            if ((s = json_string_value(json_object_get(e, "range"))))
                chati_buf_printf(b, "<!%s>", s);
        } else if (json_is_array(json_object_get(e, "elements"))) {
            if (b->len > 0 && b->data[b->len - 1] != '\n')
                chati_buf_puts(b, "\n");
            rich_text(b, json_object_get(e, "elements"), depth + 1);
        }
    }
}

chat_err chati_text_from_blocks(const char *blocks, char **out)
{
    *out = NULL;
    json_t *v = json_loads(blocks, 0, NULL);
    if (!json_is_array(v)) {
        json_decref(v);
        return chati_fail(CHAT_ERR_INVALID_BLOCKS_FORMAT, "blocks are not a JSON array");
    }
    chati_buf b = {0};
    size_t i;
    const json_t *blk;
    json_array_foreach(v, i, blk)
    {
        const char *type = json_string_value(json_object_get(blk, "type"));
        if (type == NULL)
            continue;
        if (strcmp(type, "header") == 0 || strcmp(type, "section") == 0) {
            put_text(&b, text_of(blk));
            size_t j;
            const json_t *f;
            json_array_foreach(json_object_get(blk, "fields"), j, f)
                put_text(&b, json_string_value(json_object_get(f, "text")));
        } else if (strcmp(type, "context") == 0) {
            size_t j;
            const json_t *el;
            json_array_foreach(json_object_get(blk, "elements"), j, el)
                put_text(&b, json_string_value(json_object_get(el, "text")));
        } else if (strcmp(type, "rich_text") == 0) {
            chati_buf part = {0};
            rich_text(&part, json_object_get(blk, "elements"), 0);
            if (part.len > 0)
                put_text(&b, part.data);
            chati_buf_free(&part);
        }
    }
    json_decref(v);
    if (b.len == 0)
        chati_buf_puts(&b, NO_TEXT_FALLBACK);
    /* Cut at the text limit, on a character boundary. */
    size_t chars = 0, at = 0;
    while (at < b.len && chars < CHAT_MAX_TEXT_CHARS) {
        uint32_t cp;
        at += chati_utf8_next((const unsigned char *)b.data + at, &cp);
        chars++;
    }
    if (b.data == NULL || (*out = chat_malloc(at + 1)) == NULL) {
        chati_buf_free(&b);
        return chati_fail(CHAT_ERR_NOMEM, "text");
    }
    memcpy(*out, b.data, at);
    (*out)[at] = '\0';
    chati_buf_free(&b);
    return CHAT_OK;
}

/* ------------------------------------------------------------- checks --- */

/* One JSON part: *out is its compact text, or NULL for "[]" (none). */
static chat_err rich_array(const char *text, const char *what, size_t max, const char *key,
                           chat_err bad_format, chat_err bad, chat_err too_many,
                           chat_err too_large, char **out)
{
    json_t *v = NULL;
    chat_err rv = parse_json(text, what, bad_format, too_large, &v);
    if (rv != CHAT_OK)
        return rv;
    if (!json_is_array(v))
        rv = chati_fail(bad_format, "%s must be a JSON array", what);
    if (rv == CHAT_OK)
        rv = check_items(v, what, max, key, bad, too_many);
    if (rv == CHAT_OK && json_array_size(v) > 0)
        rv = compact(v, what, too_large, out);
    json_decref(v);
    return rv;
}

static chat_err rich_metadata(const char *text, char **out)
{
    json_t *v = NULL;
    chat_err rv = parse_json(text, "metadata", CHAT_ERR_INVALID_METADATA_FORMAT,
                             CHAT_ERR_METADATA_TOO_LARGE, &v);
    if (rv != CHAT_OK)
        return rv;
    const char *type = json_string_value(json_object_get(v, "event_type"));
    const json_t *payload = json_object_get(v, "event_payload");
    if (!json_is_object(v) || type == NULL || *type == '\0' || strlen(type) > 255 ||
        (payload != NULL && !json_is_object(payload)))
        rv = chati_fail(CHAT_ERR_INVALID_METADATA_FORMAT,
                        "metadata must be {\"event_type\": string, \"event_payload\": object}");
    if (rv == CHAT_OK)
        rv = compact(v, "metadata", CHAT_ERR_METADATA_TOO_LARGE, out);
    json_decref(v);
    return rv;
}

static bool is_http_url(const char *s)
{
    return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

static chat_err set_str(char **dst, const char *src, const char *what)
{
    chat_free(*dst);
    *dst = NULL;
    if (src == NULL || *src == '\0')
        return CHAT_OK;
    if ((*dst = chat_strdup(src)) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "%s", what);
    return CHAT_OK;
}

static chat_err check_identity(const chat_post_opts *o)
{
    chat_err rv = CHAT_OK;
    if (o->username && *o->username)
        rv = chati_check_text(o->username, MAX_USERNAME_CHARS, CHAT_ERR_INVALID_ARGUMENTS,
                              "username");
    if (rv == CHAT_OK && o->icon_emoji && *o->icon_emoji) {
        size_t n = strlen(o->icon_emoji);
        bool ok = n >= 3 && n <= MAX_ICON_EMOJI && o->icon_emoji[0] == ':' &&
                  o->icon_emoji[n - 1] == ':';
        for (size_t i = 1; ok && i + 1 < n; i++)
            ok = (unsigned char)o->icon_emoji[i] > ' ' && o->icon_emoji[i] != ':' &&
                 (unsigned char)o->icon_emoji[i] < 0x7f;
        if (!ok)
            rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "icon_emoji must be :name:");
    }
    if (rv == CHAT_OK && o->icon_url && *o->icon_url) {
        bool ok = strlen(o->icon_url) <= MAX_ICON_URL && is_http_url(o->icon_url);
        for (const char *p = o->icon_url; ok && *p; p++)
            ok = (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f;
        if (!ok)
            rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "icon_url must be an http(s) URL");
    }
    return rv;
}

chat_err chati_message_set_rich(chat_message *m, const chat_post_opts *o, bool identity)
{
    if (o == NULL)
        return CHAT_OK;
    if (o->version != CHAT_POST_OPTS_V1)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "chat_post_opts version %u", o->version);
    char *blocks = NULL, *attachments = NULL, *metadata = NULL;
    chat_err rv = CHAT_OK;
    if (o->blocks && *o->blocks)
        rv = rich_array(o->blocks, "blocks", CHAT_MAX_BLOCKS, "type",
                        CHAT_ERR_INVALID_BLOCKS_FORMAT, CHAT_ERR_INVALID_BLOCKS,
                        CHAT_ERR_INVALID_BLOCKS, CHAT_ERR_MSG_BLOCKS_TOO_LONG, &blocks);
    if (rv == CHAT_OK && o->attachments && *o->attachments)
        rv = rich_array(o->attachments, "attachments", CHAT_MAX_ATTACHMENTS, NULL,
                        CHAT_ERR_INVALID_ATTACHMENTS, CHAT_ERR_INVALID_ATTACHMENTS,
                        CHAT_ERR_TOO_MANY_ATTACHMENTS, CHAT_ERR_INVALID_ATTACHMENTS,
                        &attachments);
    if (rv == CHAT_OK && o->metadata && *o->metadata)
        rv = rich_metadata(o->metadata, &metadata);
    if (rv == CHAT_OK && identity)
        rv = check_identity(o);
    if (rv != CHAT_OK) {
        chat_free(blocks);
        chat_free(attachments);
        chat_free(metadata);
        return rv;
    }
    /* NULL keeps what m has (chat.update); given-but-empty removes it. */
    if (o->blocks) {
        chat_free(m->blocks);
        m->blocks = blocks;
    }
    if (o->attachments) {
        chat_free(m->attachments);
        m->attachments = attachments;
    }
    if (o->metadata) {
        chat_free(m->metadata);
        m->metadata = metadata;
    }
    if (identity) {
        if ((rv = set_str(&m->username, o->username, "username")) != CHAT_OK ||
            (rv = set_str(&m->icon_emoji, o->icon_emoji, "icon_emoji")) != CHAT_OK ||
            (rv = set_str(&m->icon_url, o->icon_url, "icon_url")) != CHAT_OK)
            return rv;
        m->flags = ((o->flags & CHAT_POST_UNFURL_LINKS) ? CHAT_MESSAGE_UNFURL_LINKS : 0) |
                   ((o->flags & CHAT_POST_UNFURL_MEDIA) ? CHAT_MESSAGE_UNFURL_MEDIA : 0);
    }
    return CHAT_OK;
}
