/*
 * tests/unit/test_event_codec.c - chat_event creation, protobuf round trips,
 * topic names, and decoding of hostile input (proto/event.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.pb-c.h"
#include "proto/event_codec.h"
#include "testutil.h"

/* ------------------------------------------------------------ builders --- */

static char (*ids_of(const char *const *ids, size_t n))[CHAT_ID_SIZE]
{
    char(*out)[CHAT_ID_SIZE] = chat_calloc(n, CHAT_ID_SIZE);

    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < n; i++) {
        ck_assert(chati_copy_fixed(out[i], CHAT_ID_SIZE, ids[i]));
    }
    return out;
}

static chat_message *
full_message(void)
{
    static const char *const reply_users[] = {"U0000000001", "U0000000002"};
    static const char *const files[] = {"F0000000001", "F0000000002"};
    static const char *const mentions[] = {"U0000000003", "U0000000004", "U0000000005"};
    static const char *const names[] = {"thumbsup", "tada", "+1"};
    chat_message *m = chat_message_new();

    ck_assert_ptr_nonnull(m);
    strcpy(m->channel, "C0000000001");
    strcpy(m->ts, "1732600000.000100");
    strcpy(m->user, "U0000000009");
    strcpy(m->team_id, "T0000000001");
    m->text = chat_strdup("hello <@U0000000003> <!here> \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89");
    m->subtype = chat_strdup("file_share");
    strcpy(m->thread_ts, "1732600000.000050");
    m->client_msg_id = chat_strdup("5b1c1a54-d3a1-4c4c-9c9b-3f1e4b2d9a01");
    strcpy(m->edited_user, "U0000000009");
    strcpy(m->edited_ts, "1732600001.000000");
    m->reply_count = 7;
    strcpy(m->latest_reply, "1732600002.000000");
    m->n_reply_users = 2;
    m->reply_users = ids_of(reply_users, 2);
    m->n_files = 2;
    m->files = ids_of(files, 2);
    m->n_mentions = 3;
    m->mentions = ids_of(mentions, 3);
    m->n_reactions = 3;
    m->reactions = chat_calloc(3, sizeof(chat_reaction));
    ck_assert_ptr_nonnull(m->reactions);
    for (size_t i = 0; i < 3; i++) {
        m->reactions[i].name = chat_strdup(names[i]);
        m->reactions[i].n_users = i + 1;
        m->reactions[i].users = ids_of(mentions, i + 1);
    }
    m->mention_flags = CHAT_MENTION_CHANNEL | CHAT_MENTION_HERE;
    m->reply_broadcast = true;
    m->blocks = chat_strdup("[{\"type\":\"divider\"}]");
    m->attachments = chat_strdup("[{\"text\":\"\xc3\xa9\"}]");
    m->metadata = chat_strdup("{\"event_type\":\"t\",\"event_payload\":{}}");
    m->username = chat_strdup("Deploy Bot");
    m->icon_emoji = chat_strdup(":rocket:");
    m->icon_url = chat_strdup("https://example.com/i.png");
    strcpy(m->bot_id, "B0000000001");
    m->flags = CHAT_MESSAGE_UNFURL_LINKS | CHAT_MESSAGE_UNFURL_MEDIA;
    return m;
}

static chat_channel *
full_channel(void)
{
    chat_channel *c = chat_channel_new();

    ck_assert_ptr_nonnull(c);
    strcpy(c->id, "C0000000001");
    strcpy(c->team_id, "T0000000001");
    c->name = chat_strdup("mpdm-ann--bob--cy-1");
    c->type = CHAT_CHANNEL_MPIM;
    strcpy(c->creator, "U0000000001");
    c->created = 1732600000;
    c->topic = chat_strdup("the topic");
    strcpy(c->topic_creator, "U0000000002");
    c->topic_last_set = 1732600001;
    c->purpose = chat_strdup("the purpose");
    strcpy(c->purpose_creator, "U0000000003");
    c->purpose_last_set = 1732600002;
    c->is_archived = true;
    c->is_general = true;
    c->dm_key = chat_strdup("U0000000001,U0000000002,U0000000003");
    strcpy(c->last_activity, "1732600003.000000");
    c->member_count = 3;
    c->is_member = true;
    strcpy(c->last_read, "1732600002.000000");
    c->unread_count = 5;
    c->mention_count = 2;
    return c;
}

static chat_user *
full_user(void)
{
    chat_user *u = chat_user_new();

    ck_assert_ptr_nonnull(u);
    strcpy(u->id, "U0000000001");
    strcpy(u->team_id, "T0000000001");
    u->email = chat_strdup("ann@example.com");
    u->name = chat_strdup("ann");
    u->real_name = chat_strdup("Ann Example");
    u->display_name = chat_strdup("annie");
    u->title = chat_strdup("Engineer");
    u->status_text = chat_strdup("in a meeting");
    u->status_emoji = chat_strdup("calendar");
    u->tz = chat_strdup("Europe/Paris");
    u->is_admin = true;
    u->deleted = true;
    u->created = 1732600000;
    u->updated = 1732600009;
    return u;
}

static chat_event *
full_event(chat_event_type type)
{
    chat_event *ev = chati_event_new(type);

    ck_assert_ptr_nonnull(ev);
    strcpy(ev->team_id, "T0000000001");
    strcpy(ev->channel_id, "C0000000001");
    strcpy(ev->user_id, "U0000000001");
    strcpy(ev->target_user, "U0000000002");
    strcpy(ev->item_ts, "1732600000.000100");
    ev->reaction = chat_strdup("thumbsup");
    ev->data = chat_strdup("{\"type\":\"view_opened\",\"view\":{\"id\":\"V1\"}}");
    strcpy(ev->file_id, "F0000000001");
    ev->presence = CHAT_PRESENCE_AWAY;
    ev->message = full_message();
    ev->channel = full_channel();
    ev->user = full_user();
    return ev;
}

/* ------------------------------------------------------------ checkers --- */

static void
assert_ids_eq(const char (*a)[CHAT_ID_SIZE], size_t na, const char (*b)[CHAT_ID_SIZE],
              size_t nb)
{
    ck_assert_uint_eq(na, nb);
    for (size_t i = 0; i < na; i++) {
        ck_assert_str_eq(a[i], b[i]);
    }
}

#define IDS(x) ((const char(*)[CHAT_ID_SIZE])(x))

static void
assert_message_eq(const chat_message *a, const chat_message *b)
{
    ck_assert_str_eq(a->channel, b->channel);
    ck_assert_str_eq(a->ts, b->ts);
    ck_assert_str_eq(a->user, b->user);
    ck_assert_str_eq(a->team_id, b->team_id);
    ck_assert_str_eq(chat_message_text(a), chat_message_text(b));
    ck_assert_str_eq(chat_message_subtype(a), chat_message_subtype(b));
    ck_assert_str_eq(a->thread_ts, b->thread_ts);
    ck_assert_str_eq(chat_message_client_msg_id(a), chat_message_client_msg_id(b));
    ck_assert_str_eq(a->edited_user, b->edited_user);
    ck_assert_str_eq(a->edited_ts, b->edited_ts);
    ck_assert_int_eq(a->reply_count, b->reply_count);
    ck_assert_str_eq(a->latest_reply, b->latest_reply);
    assert_ids_eq(IDS(a->reply_users), a->n_reply_users, IDS(b->reply_users), b->n_reply_users);
    assert_ids_eq(IDS(a->files), a->n_files, IDS(b->files), b->n_files);
    assert_ids_eq(IDS(a->mentions), a->n_mentions, IDS(b->mentions), b->n_mentions);
    ck_assert_uint_eq(a->n_reactions, b->n_reactions);
    for (size_t i = 0; i < a->n_reactions; i++) {
        ck_assert_str_eq(a->reactions[i].name, b->reactions[i].name);
        assert_ids_eq(IDS(a->reactions[i].users), a->reactions[i].n_users,
                      IDS(b->reactions[i].users), b->reactions[i].n_users);
    }
    ck_assert_uint_eq(a->mention_flags, b->mention_flags);
    ck_assert_int_eq(a->reply_broadcast, b->reply_broadcast);
    ck_assert_str_eq(chat_message_blocks(a), chat_message_blocks(b));
    ck_assert_str_eq(chat_message_attachments(a), chat_message_attachments(b));
    ck_assert_str_eq(chat_message_metadata(a), chat_message_metadata(b));
    ck_assert_str_eq(chat_message_username(a), chat_message_username(b));
    ck_assert_str_eq(chat_message_icon_emoji(a), chat_message_icon_emoji(b));
    ck_assert_str_eq(chat_message_icon_url(a), chat_message_icon_url(b));
    ck_assert_str_eq(chat_message_bot_id(a), chat_message_bot_id(b));
    ck_assert_uint_eq(chat_message_flags(a), chat_message_flags(b));
}

static void
assert_channel_eq(const chat_channel *a, const chat_channel *b)
{
    ck_assert_str_eq(a->id, b->id);
    ck_assert_str_eq(a->team_id, b->team_id);
    ck_assert_str_eq(chat_channel_name(a), chat_channel_name(b));
    ck_assert_int_eq(a->type, b->type);
    ck_assert_str_eq(a->creator, b->creator);
    ck_assert_int_eq(a->created, b->created);
    ck_assert_str_eq(chat_channel_topic(a), chat_channel_topic(b));
    ck_assert_str_eq(a->topic_creator, b->topic_creator);
    ck_assert_int_eq(a->topic_last_set, b->topic_last_set);
    ck_assert_str_eq(chat_channel_purpose(a), chat_channel_purpose(b));
    ck_assert_str_eq(a->purpose_creator, b->purpose_creator);
    ck_assert_int_eq(a->purpose_last_set, b->purpose_last_set);
    ck_assert_int_eq(a->is_archived, b->is_archived);
    ck_assert_int_eq(a->is_general, b->is_general);
    ck_assert_str_eq(a->dm_key ? a->dm_key : "", b->dm_key ? b->dm_key : "");
    ck_assert_str_eq(a->last_activity, b->last_activity);
    ck_assert_int_eq(a->member_count, b->member_count);
    ck_assert_int_eq(a->is_member, b->is_member);
    ck_assert_str_eq(a->last_read, b->last_read);
    ck_assert_int_eq(a->unread_count, b->unread_count);
    ck_assert_int_eq(a->mention_count, b->mention_count);
}

static void
assert_user_eq(const chat_user *a, const chat_user *b)
{
    ck_assert_str_eq(a->id, b->id);
    ck_assert_str_eq(a->team_id, b->team_id);
    ck_assert_str_eq(chat_user_email(a), chat_user_email(b));
    ck_assert_str_eq(chat_user_name(a), chat_user_name(b));
    ck_assert_str_eq(chat_user_real_name(a), chat_user_real_name(b));
    ck_assert_str_eq(chat_user_display_name(a), chat_user_display_name(b));
    ck_assert_str_eq(chat_user_title(a), chat_user_title(b));
    ck_assert_str_eq(chat_user_status_text(a), chat_user_status_text(b));
    ck_assert_str_eq(chat_user_status_emoji(a), chat_user_status_emoji(b));
    ck_assert_str_eq(chat_user_tz(a), chat_user_tz(b));
    ck_assert_int_eq(a->is_admin, b->is_admin);
    ck_assert_int_eq(a->deleted, b->deleted);
    ck_assert_int_eq(a->created, b->created);
    ck_assert_int_eq(a->updated, b->updated);
}

static void
assert_event_eq(const chat_event *a, const chat_event *b)
{
    ck_assert_int_eq(chat_event_type_of(a), chat_event_type_of(b));
    ck_assert_str_eq(chat_event_id(a), chat_event_id(b));
    ck_assert_int_eq(chat_event_time_us(a), chat_event_time_us(b));
    ck_assert_str_eq(chat_event_team_id(a), chat_event_team_id(b));
    ck_assert_str_eq(chat_event_channel_id(a), chat_event_channel_id(b));
    ck_assert_str_eq(chat_event_user_id(a), chat_event_user_id(b));
    ck_assert_str_eq(chat_event_target_user(a), chat_event_target_user(b));
    ck_assert_str_eq(chat_event_item_ts(a), chat_event_item_ts(b));
    ck_assert_str_eq(chat_event_reaction(a), chat_event_reaction(b));
    ck_assert_str_eq(chat_event_data(a), chat_event_data(b));
    ck_assert_str_eq(chat_event_file_id(a), chat_event_file_id(b));
    ck_assert_int_eq(chat_event_presence(a), chat_event_presence(b));
    ck_assert_int_eq(chat_event_message(a) != NULL, chat_event_message(b) != NULL);
    ck_assert_int_eq(chat_event_channel(a) != NULL, chat_event_channel(b) != NULL);
    ck_assert_int_eq(chat_event_user(a) != NULL, chat_event_user(b) != NULL);
    if (a->message != NULL) {
        assert_message_eq(a->message, b->message);
    }
    if (a->channel != NULL) {
        assert_channel_eq(a->channel, b->channel);
    }
    if (a->user != NULL) {
        assert_user_eq(a->user, b->user);
    }
}

static chat_event *
roundtrip(const chat_event *ev)
{
    void *data = NULL;
    size_t len = 0;
    chat_event *out = NULL;

    ck_assert_chat_ok(chati_event_encode(ev, &data, &len));
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_gt(len, 0);
    ck_assert_chat_ok(chati_event_decode(data, len, &out));
    ck_assert_ptr_nonnull(out);
    chat_free(data);
    return out;
}

/* Packs a hand-made chat.Event; the caller frees with chat_free. */
static void *
pack_pb(const Chat__Event *pe, size_t *len)
{
    void *buf;

    *len = chat__event__get_packed_size(pe);
    buf = chat_malloc(*len + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(chat__event__pack(pe, buf), *len);
    return buf;
}

static chat_err
decode_pb(const Chat__Event *pe)
{
    size_t len;
    void *buf = pack_pb(pe, &len);
    chat_event *ev = NULL;
    chat_err rv = chati_event_decode(buf, len, &ev);

    if (rv != CHAT_OK) {
        ck_assert_ptr_null(ev);
    }
    chati_event_free(ev);
    chat_free(buf);
    return rv;
}

/* -------------------------------------------------------------- topics --- */

START_TEST(topics)
{
    static const char *const want[] = {
        NULL, "message.created", "message.changed", "message.deleted", "reaction.added",
        "reaction.removed", "channel.created", "channel.renamed", "channel.archived",
        "channel.unarchived", "channel.topic", "channel.purpose", "channel.member_joined",
        "channel.member_left", "presence.changed", "user.typing", "user.changed",
        "channel.marked", "file.deleted", "user.joined", "message.ephemeral", "view.changed",
        "pin.added", "pin.removed",
    };

    ck_assert_uint_eq(CHATI_ARRAY_LEN(want), CHAT_EVENT_TYPE_MAX + 1);
    for (int t = 1; t <= CHAT_EVENT_TYPE_MAX; t++) {
        ck_assert_str_eq(chat_event_topic((chat_event_type)t), want[t]);
        ck_assert_int_eq(chat_event_type_from_topic(want[t]), t);
    }
    ck_assert_ptr_null(chat_event_topic((chat_event_type)0));
    ck_assert_ptr_null(chat_event_topic((chat_event_type)(CHAT_EVENT_TYPE_MAX + 1)));
    ck_assert_ptr_null(chat_event_topic((chat_event_type)-1));
    ck_assert_int_eq(chat_event_type_from_topic("message"), 0);
    ck_assert_int_eq(chat_event_type_from_topic(""), 0);
    ck_assert_int_eq(chat_event_type_from_topic(NULL), 0);
    ck_assert_int_eq(chat_event_type_from_topic("message.created.x"), 0);
}
END_TEST

/* -------------------------------------------------------------- events --- */

START_TEST(new_event)
{
    chat_event *ev = chati_event_new(CHAT_EVENT_MESSAGE_CREATED);
    int64_t now = chati_now_us();
    const char *id;

    ck_assert_ptr_nonnull(ev);
    id = chat_event_id(ev);
    ck_assert_uint_eq(strlen(id), 33);
    ck_assert_int_eq(id[0], 'E');
    for (size_t i = 1; i < 33; i++) {
        ck_assert_msg((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'F'),
                      "bad id %s", id);
    }
    ck_assert_int_le(chat_event_time_us(ev), now);
    ck_assert_int_gt(chat_event_time_us(ev), now - 10 * 1000000LL);
    ck_assert_int_eq(chat_event_type_of(ev), CHAT_EVENT_MESSAGE_CREATED);
    ck_assert_str_eq(chat_event_team_id(ev), "");
    ck_assert_str_eq(chat_event_reaction(ev), "");
    ck_assert_ptr_null(chat_event_message(ev));
    ck_assert_ptr_null(chat_event_channel(ev));
    ck_assert_ptr_null(chat_event_user(ev));
    ck_assert_int_eq(chat_event_presence(ev), CHAT_PRESENCE_OFFLINE);
    chati_event_free(ev);
    chati_event_free(NULL);

    ck_assert_ptr_null(chati_event_new((chat_event_type)0));
    ck_assert_ptr_null(chati_event_new((chat_event_type)(CHAT_EVENT_TYPE_MAX + 1)));

    /* NULL events read as empty. */
    ck_assert_str_eq(chat_event_id(NULL), "");
    ck_assert_str_eq(chat_event_channel_id(NULL), "");
    ck_assert_ptr_null(chat_event_message(NULL));
}
END_TEST

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(unique_ids)
{
    enum { N = 10000 };
    char **ids = calloc(N, sizeof(char *));

    ck_assert_ptr_nonnull(ids);
    for (size_t i = 0; i < N; i++) {
        chat_event *ev = chati_event_new(CHAT_EVENT_USER_TYPING);

        ck_assert_ptr_nonnull(ev);
        ids[i] = strdup(chat_event_id(ev));
        chati_event_free(ev);
    }
    qsort(ids, N, sizeof(char *), cmp_str);
    for (size_t i = 1; i < N; i++) {
        ck_assert_str_ne(ids[i - 1], ids[i]);
    }
    for (size_t i = 0; i < N; i++) {
        free(ids[i]);
    }
    free(ids);
}
END_TEST

/* Ids start with the time in milliseconds, so stores that record applied
 * ids append to their index: an id made in a later millisecond sorts after. */
START_TEST(ids_sort_by_time)
{
    char prev[40] = "";
    for (int i = 0; i < 5; i++) {
        chat_event *ev = chati_event_new(CHAT_EVENT_USER_TYPING);
        ck_assert_ptr_nonnull(ev);
        const char *id = chat_event_id(ev);
        char want[16];
        snprintf(want, sizeof want, "E%012" PRIX64, (uint64_t)chat_event_time_us(ev) / 1000);
        ck_assert_int_eq(strncmp(id, want, 13), 0);
        ck_assert_msg(strcmp(prev, id) < 0, "%s then %s", prev, id);
        snprintf(prev, sizeof prev, "%s", id);
        chati_event_free(ev);
        usleep(1500);
    }
}
END_TEST

START_TEST(roundtrip_every_type)
{
    for (int t = 1; t <= CHAT_EVENT_TYPE_MAX; t++) {
        chat_event *ev = full_event((chat_event_type)t);
        chat_event *out = roundtrip(ev);

        assert_event_eq(ev, out);
        /* Spot checks against literal values, not only against the input. */
        ck_assert_int_eq(chat_event_type_of(out), t);
        ck_assert_uint_eq(chat_message_reaction_count(chat_event_message(out)), 3);
        ck_assert_str_eq(chat_message_reaction_user(chat_event_message(out), 2, 2),
                         "U0000000005");
        ck_assert_str_eq(chat_message_reply_user(chat_event_message(out), 1), "U0000000002");
        ck_assert_str_eq(chat_message_file_id(chat_event_message(out), 1), "F0000000002");
        ck_assert_str_eq(chat_message_mention(chat_event_message(out), 0), "U0000000003");
        ck_assert(chat_message_mentions_here(chat_event_message(out)));
        ck_assert_int_eq(chat_channel_type_of(chat_event_channel(out)), CHAT_CHANNEL_MPIM);
        ck_assert_str_eq(chat_user_tz(chat_event_user(out)), "Europe/Paris");
        ck_assert_str_eq(chat_event_reaction(out), "thumbsup");
        ck_assert_str_eq(chat_event_data(out), "{\"type\":\"view_opened\",\"view\":{\"id\":\"V1\"}}");
        ck_assert_int_eq(chat_event_presence(out), CHAT_PRESENCE_AWAY);
        chati_event_free(out);
        chati_event_free(ev);
    }
}
END_TEST

START_TEST(roundtrip_sparse)
{
    /* No payloads, no optional strings: everything reads back empty. */
    chat_event *ev = chati_event_new(CHAT_EVENT_FILE_DELETED);
    chat_event *out;

    strcpy(ev->file_id, "F0000000001");
    out = roundtrip(ev);
    assert_event_eq(ev, out);
    ck_assert_ptr_null(out->reaction);
    ck_assert_ptr_null(out->data);
    ck_assert_str_eq(chat_event_data(out), "");
    ck_assert_ptr_null(out->message);
    ck_assert_ptr_null(out->channel);
    ck_assert_ptr_null(out->user);
    chati_event_free(out);

    /* Empty payloads survive as present-but-empty entities. */
    ev->message = chat_message_new();
    ev->channel = chat_channel_new();
    ev->user = chat_user_new();
    out = roundtrip(ev);
    assert_event_eq(ev, out);
    ck_assert_ptr_nonnull(out->message);
    ck_assert_ptr_null(out->message->text);
    ck_assert_ptr_null(out->message->subtype);
    ck_assert_uint_eq(out->message->n_reactions, 0);
    chati_event_free(out);
    chati_event_free(ev);
}
END_TEST

START_TEST(encode_rejects)
{
    chat_event *ev = chati_event_new(CHAT_EVENT_USER_CHANGED);
    void *data = NULL;
    size_t len = 0;

    ck_assert_chat_err(chati_event_encode(NULL, &data, &len), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chati_event_encode(ev, NULL, &len), CHAT_ERR_INVALID_ARGUMENTS);
    ev->type = (chat_event_type)0;
    ck_assert_chat_err(chati_event_encode(ev, &data, &len), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_ptr_null(data);
    chati_event_free(ev);
}
END_TEST

/* ----------------------------------------------------------- hostile ---- */

START_TEST(decode_truncated)
{
    chat_event *ev = full_event(CHAT_EVENT_MESSAGE_CHANGED);
    void *data;
    size_t len, failed = 0;

    ck_assert_chat_ok(chati_event_encode(ev, &data, &len));
    for (size_t cut = 0; cut < len; cut++) {
        /* Exact-size copies so ASan sees any read past the end. */
        void *part = malloc(cut > 0 ? cut : 1);
        chat_event *out = NULL;
        chat_err rv;

        memcpy(part, data, cut);
        rv = chati_event_decode(part, cut, &out);
        ck_assert_msg(rv == CHAT_OK || rv == CHAT_ERR_INVALID_ARGUMENTS,
                      "cut %zu: %s", cut, chat_err_name(rv));
        if (rv == CHAT_OK) {
            ck_assert_ptr_nonnull(out);
            ck_assert_int_eq(out->type, CHAT_EVENT_MESSAGE_CHANGED);
            chati_event_free(out);
        } else {
            ck_assert_ptr_null(out);
            failed++;
        }
        free(part);
    }
    /* Most cuts land inside a field; a cut of the last byte always does. */
    ck_assert_uint_gt(failed, len / 2);
    {
        chat_event *out = NULL;

        ck_assert_chat_err(chati_event_decode(data, len - 1, &out),
                           CHAT_ERR_INVALID_ARGUMENTS);
        ck_assert_chat_err(chati_event_decode(data, 0, &out), CHAT_ERR_INVALID_ARGUMENTS);
        ck_assert_ptr_null(out);
    }
    chat_free(data);
    chati_event_free(ev);
}
END_TEST

START_TEST(decode_garbage)
{
    static const unsigned char junk1[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const char junk2[] = "this is not a protobuf message at all";
    /* field 1 (id), length 0x7fffffff: far beyond the buffer. */
    static const unsigned char junk3[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x07, 'E'};
    chat_event *out = NULL;
    unsigned seed = 12345;

    ck_assert_chat_err(chati_event_decode(junk1, sizeof(junk1), &out),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chati_event_decode(junk2, sizeof(junk2) - 1, &out),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chati_event_decode(junk3, sizeof(junk3), &out),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chati_event_decode(NULL, 10, &out), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chati_event_decode(junk1, sizeof(junk1), NULL),
                       CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_ptr_null(out);

    /* Random bytes must never crash or leak, whatever they decode to. */
    for (int i = 0; i < 20000; i++) {
        unsigned char buf[64];
        size_t n = (size_t)(rand_r(&seed) % (int)sizeof(buf));
        chat_err rv;

        for (size_t j = 0; j < n; j++) {
            buf[j] = (unsigned char)rand_r(&seed);
        }
        rv = chati_event_decode(buf, n, &out);
        ck_assert(rv == CHAT_OK || rv == CHAT_ERR_INVALID_ARGUMENTS);
        chati_event_free(out);
        out = NULL;
    }
}
END_TEST

START_TEST(decode_bitflips)
{
    chat_event *ev = full_event(CHAT_EVENT_MESSAGE_CREATED);
    unsigned char *data;
    size_t len;

    ck_assert_chat_ok(chati_event_encode(ev, (void **)&data, &len));
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            chat_event *out = NULL;
            chat_err rv;

            data[i] ^= (unsigned char)(1u << bit);
            rv = chati_event_decode(data, len, &out);
            ck_assert(rv == CHAT_OK || rv == CHAT_ERR_INVALID_ARGUMENTS);
            if (rv == CHAT_OK) {
                /* Whatever got through still fits its fixed fields. */
                ck_assert_uint_lt(strlen(out->id), CHATI_EVENT_ID_SIZE);
                ck_assert_uint_lt(strlen(out->item_ts), CHAT_TS_SIZE);
                ck_assert(out->type >= 1 && out->type <= CHAT_EVENT_TYPE_MAX);
            }
            chati_event_free(out);
            data[i] ^= (unsigned char)(1u << bit);
        }
    }
    chat_free(data);
    chati_event_free(ev);
}
END_TEST

START_TEST(decode_oversized_fields)
{
    char longid[256];
    char *users[1];
    Chat__Event pe;
    Chat__Message pm;
    Chat__Reaction pr;
    Chat__Reaction *prs[1] = {&pr};
    Chat__Channel pc;
    Chat__User pu;

    memset(longid, 'A', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';

#define RESET()                                                                            \
    do {                                                                                   \
        chat__event__init(&pe);                                                            \
        pe.id = "E0123456789ABCDEF0123456789ABCDEF";                                       \
        pe.type = CHAT_EVENT_MESSAGE_CREATED;                                              \
        chat__message__init(&pm);                                                          \
        chat__reaction__init(&pr);                                                         \
        chat__channel__init(&pc);                                                          \
        chat__user__init(&pu);                                                             \
    } while (0)

    RESET();
    ck_assert_chat_ok(decode_pb(&pe));

    /* Envelope. */
    RESET();
    pe.id = longid;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.id = "";
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    longid[CHATI_EVENT_ID_SIZE] = '\0'; /* one too long */
    pe.id = longid;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    longid[CHATI_EVENT_ID_SIZE - 1] = '\0'; /* exactly fits */
    ck_assert_chat_ok(decode_pb(&pe));
    memset(longid, 'A', sizeof(longid) - 1);
    RESET();
    longid[CHAT_ID_SIZE] = '\0'; /* one too many */
    pe.team_id = longid;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    longid[CHAT_ID_SIZE - 1] = '\0'; /* fits */
    ck_assert_chat_ok(decode_pb(&pe));
    memset(longid, 'A', sizeof(longid) - 1);
    RESET();
    pe.channel_id = longid;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.user_id = longid;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.target_user = longid;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.file_id = longid;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.item_ts = "1732600000.0001000"; /* 18 characters */
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.reaction = "\xff\xfe";
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.type = 0;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    pe.type = CHAT_EVENT_TYPE_MAX + 1;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    pe.type = 0xffffffffu;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.presence = 3;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);

    /* Message payload. */
    RESET();
    pe.message = &pm;
    ck_assert_chat_ok(decode_pb(&pe));
    pm.ts = "17326000000.000100";
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.message = &pm;
    pm.channel = longid;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.message = &pm;
    pm.thread_ts = longid;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.message = &pm;
    pm.text = "bad \xc0\xaf utf-8";
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.message = &pm;
    users[0] = longid;
    pm.n_mentions = 1;
    pm.mentions = users;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.message = &pm;
    pm.n_files = 1;
    pm.files = users;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.message = &pm;
    pm.n_reply_users = 1;
    pm.reply_users = users;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.message = &pm;
    pm.n_reactions = 1;
    pm.reactions = prs;
    pr.name = "tada";
    pr.n_users = 1;
    pr.users = users;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    users[0] = "U0000000001";
    ck_assert_chat_ok(decode_pb(&pe));
    pr.name = "";
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);

    /* Channel and user payloads. */
    RESET();
    pe.channel = &pc;
    pc.type = 3;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    pc.type = CHAT_CHANNEL_PRIVATE;
    ck_assert_chat_ok(decode_pb(&pe));
    pc.last_read = longid;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.channel = &pc;
    pc.creator = longid;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.user = &pu;
    pu.id = longid;
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
    RESET();
    pe.user = &pu;
    pu.email = "\xed\xa0\x80@x.co"; /* a surrogate */
    ck_assert_chat_err(decode_pb(&pe), CHAT_ERR_INVALID_ARGUMENTS);
#undef RESET
}
END_TEST

START_TEST(decode_unknown_fields_ignored)
{
    /* A newer producer may append fields: decoders must skip them. */
    chat_event *ev = chati_event_new(CHAT_EVENT_PRESENCE_CHANGED);
    chat_event *out = NULL;
    unsigned char *data, *ext;
    size_t len;

    strcpy(ev->user_id, "U0000000001");
    ev->presence = CHAT_PRESENCE_ACTIVE;
    ck_assert_chat_ok(chati_event_encode(ev, (void **)&data, &len));
    ext = malloc(len + 3);
    memcpy(ext, data, len);
    ext[len] = 0x98; /* field 99, varint: a two-byte tag */
    ext[len + 1] = 0x06;
    ext[len + 2] = 0x2a;
    ck_assert_chat_ok(chati_event_decode(ext, len + 3, &out));
    assert_event_eq(ev, out);
    chati_event_free(out);
    free(ext);
    chat_free(data);
    chati_event_free(ev);
}
END_TEST

static Suite *
event_codec_suite(void)
{
    Suite *s = suite_create("event_codec");
    TCase *tc;

    tc = tcase_create("events");
    tcase_add_test(tc, topics);
    tcase_add_test(tc, new_event);
    tcase_add_test(tc, unique_ids);
    tcase_add_test(tc, ids_sort_by_time);
    suite_add_tcase(s, tc);

    tc = tcase_create("roundtrip");
    tcase_add_test(tc, roundtrip_every_type);
    tcase_add_test(tc, roundtrip_sparse);
    tcase_add_test(tc, encode_rejects);
    tcase_add_test(tc, decode_unknown_fields_ignored);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, decode_truncated);
    tcase_add_test(tc, decode_garbage);
    tcase_add_test(tc, decode_bitflips);
    tcase_add_test(tc, decode_oversized_fields);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return chat_test_run(event_codec_suite());
}
