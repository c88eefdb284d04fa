/* Bookmarks (chat/channel.h, Slack's bookmarks.*): links a channel's
 * members keep in its header. The channel service keeps them in its store
 * (put_bookmark...). */
#include <stdio.h>
#include <string.h>

#include "domain/ctx.h"

#define MAX_BOOKMARKS 100  /* per channel */
#define MAX_TITLE 255      /* characters */
#define MAX_LINK 2000      /* bytes */
#define MAX_EMOJI 100

static bool kept(const chat_ctx *ctx)
{
    return CHATI_HAS(ctx->channels, put_bookmark, CHAT_STORE_V6) &&
           ctx->channels->remove_bookmark && ctx->channels->list_bookmarks;
}

/* The channel, for a change by one of its members; or (read) to look at. */
static chat_err channel_for(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                            bool change, chat_channel **c)
{
    chati_clear_errmsg();
    CHATI_REQUIRE(ctx, channels, "channel");
    chat_err rv = chati_check_session(s);
    if (rv == CHAT_OK && !kept(ctx))
        rv = chati_fail(CHAT_ERR_NOT_SUPPORTED, "this channel store keeps no bookmarks");
    bool member = false;
    if (rv == CHAT_OK)
        rv = chati_channel_visible(ctx, s, channel_id, c, &member);
    if (rv == CHAT_OK && change && !member)
        rv = chati_fail(CHAT_ERR_NOT_IN_CHANNEL, "bookmarks are for the channel's members");
    if (rv == CHAT_OK && change && (*c)->is_archived)
        rv = chati_fail(CHAT_ERR_IS_ARCHIVED, "the channel is archived");
    return rv;
}

static chat_err check_parts(const char *title, const char *link, const char *emoji)
{
    chat_err rv = CHAT_OK;
    if (title && (*title == '\0' ||
                  (rv = chati_check_text(title, MAX_TITLE, CHAT_ERR_INVALID_ARGUMENTS, "title")) !=
                      CHAT_OK))
        return rv != CHAT_OK ? rv : chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "title is empty");
    if (link && (strlen(link) > MAX_LINK ||
                 (strncmp(link, "https://", 8) != 0 && strncmp(link, "http://", 7) != 0) ||
                 strpbrk(link, " \t\r\n<>\"") != NULL))
        return chati_fail(CHAT_ERR_INVALID_LINK, "link must be an http(s) URL");
    if (emoji && *emoji) {
        size_t n = strlen(emoji);
        if (n < 3 || n > MAX_EMOJI || emoji[0] != ':' || emoji[n - 1] != ':')
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "emoji is :name:");
        char name[MAX_EMOJI];
        memcpy(name, emoji + 1, n - 2);
        name[n - 2] = '\0';
        if (!chati_reaction_name_valid(name))
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "emoji is :name:");
    }
    return CHAT_OK;
}

static chat_err dup_into(char **dst, const char *src)
{
    chat_free(*dst);
    *dst = src && *src ? chat_strdup(src) : NULL;
    return src && *src && *dst == NULL ? chati_fail(CHAT_ERR_NOMEM, "bookmark") : CHAT_OK;
}

/* The stored bookmark of that id in c; invalid_bookmark_id otherwise. */
static chat_err find(chat_ctx *ctx, const chat_channel *c, const char *id, chat_bookmark *out)
{
    chat_bookmark *all = NULL;
    size_t n = 0;
    chat_err rv = ctx->channels->list_bookmarks(ctx->channels_impl, c->id, &all, &n);
    bool found = false;
    for (size_t i = 0; rv == CHAT_OK && i < n && !found; i++)
        if (id && strcmp(all[i].id, id) == 0) {
            *out = all[i];
            memset(&all[i], 0, sizeof all[i]); /* its strings are out's now */
            found = true;
        }
    chat_bookmarks_free(all, n);
    if (rv == CHAT_OK && !found)
        rv = chati_fail(CHAT_ERR_INVALID_BOOKMARK_ID, "no bookmark %.30s in the channel",
                        id ? id : "");
    return rv;
}

static chat_err finish(chat_err rv, chat_bookmark *b, chat_bookmark **out)
{
    if (rv == CHAT_OK && out) {
        *out = chat_calloc(1, sizeof **out);
        if (*out == NULL)
            rv = chati_fail(CHAT_ERR_NOMEM, "bookmark");
        else {
            **out = *b;
            return CHAT_OK;
        }
    }
    chat_free(b->title);
    chat_free(b->link);
    chat_free(b->emoji);
    return rv;
}

chat_err chat_bookmark_add(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                           const char *title, const char *type, const char *link,
                           const char *emoji, chat_bookmark **out)
{
    chat_channel *c = NULL;
    chat_err rv = channel_for(ctx, s, channel_id, true, &c);
    if (rv == CHAT_OK && type && *type && strcmp(type, "link") != 0)
        rv = chati_fail(CHAT_ERR_INVALID_BOOKMARK_TYPE, "bookmarks are links");
    if (rv == CHAT_OK && (title == NULL || link == NULL || *link == '\0'))
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "title and link are required");
    if (rv == CHAT_OK)
        rv = check_parts(title, link, emoji);
    chat_bookmark b;
    memset(&b, 0, sizeof b);
    if (rv == CHAT_OK) {
        char id[CHAT_ID_SIZE];
        rv = chati_id_new('B', id);
        /* "Bk" as Slack's, then the time in base 36 (so ids sort in the
         * order they were made: a list is in that order), then randomness. */
        static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        char t[12];
        uint64_t us = (uint64_t)chati_now_us();
        for (int i = 10; i >= 0; i--, us /= 36)
            t[i] = digits[us % 36];
        t[11] = '\0';
        if (rv == CHAT_OK)
            snprintf(b.id, sizeof b.id, "Bk%s%.8s", t, id + 1);
        memcpy(b.channel, c->id, CHAT_ID_SIZE);
        memcpy(b.updated_by, s->user_id, CHAT_ID_SIZE);
        b.created = b.updated = chati_now_ms() / 1000;
    }
    if (rv == CHAT_OK && (rv = dup_into(&b.title, title)) == CHAT_OK &&
        (rv = dup_into(&b.link, link)) == CHAT_OK && (rv = dup_into(&b.emoji, emoji)) == CHAT_OK)
        rv = ctx->channels->put_bookmark(ctx->channels_impl, &b, MAX_BOOKMARKS);
    chat_channel_free(c);
    return finish(rv, &b, out);
}

chat_err chat_bookmark_edit(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                            const char *id, const char *title, const char *link,
                            const char *emoji, chat_bookmark **out)
{
    chat_channel *c = NULL;
    chat_bookmark b;
    memset(&b, 0, sizeof b);
    chat_err rv = channel_for(ctx, s, channel_id, true, &c);
    if (rv == CHAT_OK)
        rv = check_parts(title && *title ? title : NULL, link && *link ? link : NULL, emoji);
    if (rv == CHAT_OK)
        rv = find(ctx, c, id, &b);
    /* What is given changes; what is not stays. */
    if (rv == CHAT_OK && title && *title)
        rv = dup_into(&b.title, title);
    if (rv == CHAT_OK && link && *link)
        rv = dup_into(&b.link, link);
    if (rv == CHAT_OK && emoji)
        rv = dup_into(&b.emoji, emoji);
    if (rv == CHAT_OK) {
        memcpy(b.updated_by, s->user_id, CHAT_ID_SIZE);
        b.updated = chati_now_ms() / 1000;
        rv = ctx->channels->put_bookmark(ctx->channels_impl, &b, MAX_BOOKMARKS);
        if (chati_not_found(rv))
            rv = chati_fail(CHAT_ERR_INVALID_BOOKMARK_ID, "the bookmark is gone");
    }
    chat_channel_free(c);
    return finish(rv, &b, out);
}

chat_err chat_bookmark_remove(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                              const char *id)
{
    chat_channel *c = NULL;
    chat_err rv = channel_for(ctx, s, channel_id, true, &c);
    if (rv == CHAT_OK && (id == NULL || *id == '\0' || strlen(id) >= CHAT_ID_SIZE))
        rv = chati_fail(CHAT_ERR_INVALID_BOOKMARK_ID, "no such bookmark");
    if (rv == CHAT_OK) {
        rv = ctx->channels->remove_bookmark(ctx->channels_impl, c->id, id);
        if (chati_not_found(rv))
            rv = chati_fail(CHAT_ERR_INVALID_BOOKMARK_ID, "no bookmark %.30s in the channel", id);
    }
    chat_channel_free(c);
    return rv;
}

chat_err chat_bookmark_list(chat_ctx *ctx, const chat_session *s, const char *channel_id,
                            chat_bookmark **out, size_t *n)
{
    chat_channel *c = NULL;
    chat_err rv = channel_for(ctx, s, channel_id, false, &c);
    if (rv == CHAT_OK && (out == NULL || n == NULL))
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "out and n are required");
    if (rv == CHAT_OK)
        rv = ctx->channels->list_bookmarks(ctx->channels_impl, c->id, out, n);
    chat_channel_free(c);
    return rv;
}
