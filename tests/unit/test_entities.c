/*
 * tests/unit/test_entities.c - entities (core/entity.c), lists (core/list.c)
 * and the public accessors (core/accessors.c).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/backend/store.h>

#include "core/internal.h"
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
    m->text = chat_strdup("hello <@U0000000003> \xc3\xa9t\xc3\xa9");
    m->subtype = chat_strdup("file_share");
    strcpy(m->thread_ts, "1732600000.000100");
    m->client_msg_id = chat_strdup("client-1");
    strcpy(m->edited_user, "U0000000009");
    strcpy(m->edited_ts, "1732600001.000000");
    m->reply_count = 2;
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
    return m;
}

static chat_channel *
full_channel(void)
{
    chat_channel *c = chat_channel_new();

    ck_assert_ptr_nonnull(c);
    strcpy(c->id, "C0000000001");
    strcpy(c->team_id, "T0000000001");
    c->name = chat_strdup("general");
    c->type = CHAT_CHANNEL_PUBLIC;
    strcpy(c->creator, "U0000000001");
    c->created = 1732600000;
    c->topic = chat_strdup("the topic");
    strcpy(c->topic_creator, "U0000000002");
    c->topic_last_set = 1732600001;
    c->purpose = chat_strdup("the purpose");
    strcpy(c->purpose_creator, "U0000000003");
    c->purpose_last_set = 1732600002;
    c->is_general = true;
    c->dm_key = chat_strdup("U1,U2");
    strcpy(c->last_activity, "1732600003.000000");
    c->member_count = 42;
    c->is_member = true;
    strcpy(c->last_read, "1732600002.000000");
    c->unread_count = 3;
    c->mention_count = 1;
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
    u->status_text = chat_strdup("busy");
    u->status_emoji = chat_strdup("calendar");
    u->tz = chat_strdup("Europe/Paris");
    u->is_admin = true;
    u->created = 1732600000;
    u->updated = 1732600009;
    return u;
}

static chat_file *
full_file(void)
{
    static const char *const chans[] = {"C0000000001", "C0000000002"};
    chat_file *f = chat_file_new();

    ck_assert_ptr_nonnull(f);
    strcpy(f->id, "F0000000001");
    strcpy(f->team_id, "T0000000001");
    strcpy(f->user, "U0000000001");
    f->name = chat_strdup("a.txt");
    f->title = chat_strdup("A");
    f->mimetype = chat_strdup("text/plain");
    f->size = 12;
    memset(f->sha256, 'a', 64);
    f->created = 1732600000;
    f->n_channels = 2;
    f->channels = ids_of(chans, 2);
    return f;
}

/* --------------------------------------------------------------- lists --- */

START_TEST(list_push_take)
{
    chat_list *l = chat_list_new(CHAT_LIST_USERS);
    const char *names[] = {"a", "b", "c"};
    chat_user *u;

    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(chat_list_kind_of(l), CHAT_LIST_USERS);
    ck_assert_uint_eq(chat_list_count(l), 0);
    for (size_t i = 0; i < 3; i++) {
        u = chat_user_new();
        u->name = chat_strdup(names[i]);
        ck_assert_chat_ok(chat_list_push(l, u));
    }
    ck_assert_uint_eq(chat_list_count(l), 3);
    ck_assert_str_eq(chat_user_name(chat_list_user(l, 0)), "a");
    ck_assert_str_eq(chat_user_name(chat_list_user(l, 2)), "c");
    ck_assert_ptr_null(chat_list_user(l, 3));

    u = chat_list_take(l, 1);
    ck_assert_ptr_nonnull(u);
    ck_assert_str_eq(chat_user_name(u), "b");
    chat_user_free(u);
    ck_assert_uint_eq(chat_list_count(l), 2);
    ck_assert_str_eq(chat_user_name(chat_list_user(l, 0)), "a");
    ck_assert_str_eq(chat_user_name(chat_list_user(l, 1)), "c");
    ck_assert_ptr_null(chat_list_take(l, 2));

    u = chat_list_take(l, 1);
    ck_assert_str_eq(chat_user_name(u), "c");
    chat_user_free(u);
    u = chat_list_take(l, 0);
    ck_assert_str_eq(chat_user_name(u), "a");
    chat_user_free(u);
    ck_assert_uint_eq(chat_list_count(l), 0);
    ck_assert_ptr_null(chat_list_take(l, 0));
    chat_list_free(l);
}
END_TEST

START_TEST(list_grows)
{
    chat_list *l = chat_list_new(CHAT_LIST_STRINGS);
    char buf[32];

    for (int i = 0; i < 5000; i++) {
        snprintf(buf, sizeof(buf), "s%d", i);
        ck_assert_chat_ok(chat_list_push_string(l, buf));
    }
    ck_assert_uint_eq(chat_list_count(l), 5000);
    for (int i = 0; i < 5000; i += 997) {
        snprintf(buf, sizeof(buf), "s%d", i);
        ck_assert_str_eq(chat_list_string(l, (size_t)i), buf);
    }
    chat_list_free(l);
}
END_TEST

START_TEST(list_strings_copied)
{
    chat_list *l = chat_list_new(CHAT_LIST_STRINGS);
    char buf[8] = "abc";

    ck_assert_chat_ok(chat_list_push_string(l, buf));
    buf[0] = 'x';
    ck_assert_str_eq(chat_list_string(l, 0), "abc");
    ck_assert_chat_err(chat_list_push_string(l, NULL), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_uint_eq(chat_list_count(l), 1);
    chat_list_free(l);
}
END_TEST

START_TEST(list_kind_mismatch)
{
    chat_list *l = chat_list_new(CHAT_LIST_CHANNELS);

    ck_assert_chat_ok(chat_list_push(l, full_channel()));
    ck_assert_ptr_nonnull(chat_list_channel(l, 0));
    ck_assert_ptr_null(chat_list_user(l, 0));
    ck_assert_ptr_null(chat_list_message(l, 0));
    ck_assert_ptr_null(chat_list_file(l, 0));
    ck_assert_ptr_null(chat_list_string(l, 0));
    ck_assert_chat_err(chat_list_push_string(l, "x"), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_chat_err(chat_list_push(l, NULL), CHAT_ERR_INVALID_ARGUMENTS);
    ck_assert_uint_eq(chat_list_count(l), 1);
    chat_list_free(l);

    ck_assert_ptr_null(chat_list_new((chat_list_kind)0));
    ck_assert_ptr_null(chat_list_new((chat_list_kind)99));
    /* NULL lists read as empty. */
    ck_assert_uint_eq(chat_list_count(NULL), 0);
    ck_assert_ptr_null(chat_list_user(NULL, 0));
    ck_assert_ptr_null(chat_list_next_cursor(NULL));
    ck_assert(!chat_list_has_more(NULL));
    chat_list_free(NULL);
}
END_TEST

START_TEST(list_cursor)
{
    chat_list *l = chat_list_new(CHAT_LIST_MESSAGES);
    char cur[8] = "abc";

    ck_assert_ptr_null(chat_list_next_cursor(l));
    ck_assert(!chat_list_has_more(l));
    ck_assert_chat_ok(chat_list_set_next_cursor(l, cur));
    cur[0] = 'z';
    ck_assert_str_eq(chat_list_next_cursor(l), "abc");
    ck_assert_chat_ok(chat_list_set_next_cursor(l, "def"));
    ck_assert_str_eq(chat_list_next_cursor(l), "def");
    ck_assert_chat_ok(chat_list_set_next_cursor(l, NULL));
    ck_assert_ptr_null(chat_list_next_cursor(l));
    ck_assert_chat_ok(chat_list_set_next_cursor(l, ""));
    ck_assert_ptr_null(chat_list_next_cursor(l));
    chat_list_set_has_more(l, true);
    ck_assert(chat_list_has_more(l));
    chat_list_set_has_more(l, false);
    ck_assert(!chat_list_has_more(l));
    ck_assert_chat_ok(chat_list_set_next_cursor(l, "keep"));
    chat_list_free(l);
}
END_TEST

START_TEST(list_every_kind_frees)
{
    chat_list *l;

    l = chat_list_new(CHAT_LIST_MESSAGES);
    ck_assert_chat_ok(chat_list_push(l, full_message()));
    ck_assert_chat_ok(chat_list_push(l, chat_message_new()));
    ck_assert_str_eq(chat_message_ts(chat_list_message(l, 0)), "1732600000.000100");
    chat_list_free(l);

    l = chat_list_new(CHAT_LIST_FILES);
    ck_assert_chat_ok(chat_list_push(l, full_file()));
    ck_assert_str_eq(chat_file_name(chat_list_file(l, 0)), "a.txt");
    chat_list_free(l);

    l = chat_list_new(CHAT_LIST_USERS);
    ck_assert_chat_ok(chat_list_push(l, full_user()));
    chat_list_free(l);

    l = chat_list_new(CHAT_LIST_CHANNELS);
    ck_assert_chat_ok(chat_list_push(l, full_channel()));
    chat_list_free(l);
}
END_TEST

/* ---------------------------------------------------------------- dups --- */

START_TEST(dup_message_deep)
{
    chat_message *m = full_message();
    chat_message *d = chat_message_dup(m);

    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_ne(d->text, m->text);
    ck_assert_ptr_ne(d->reactions, m->reactions);
    ck_assert_ptr_ne(d->reply_users, m->reply_users);
    ck_assert_str_eq(chat_message_text(d), chat_message_text(m));
    ck_assert_uint_eq(chat_message_reaction_count(d), 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_ptr_ne(d->reactions[i].name, m->reactions[i].name);
        ck_assert_ptr_ne(d->reactions[i].users, m->reactions[i].users);
        ck_assert_str_eq(chat_message_reaction_name(d, i), chat_message_reaction_name(m, i));
        ck_assert_uint_eq(chat_message_reaction_user_count(d, i), i + 1);
        for (size_t j = 0; j <= i; j++) {
            ck_assert_str_eq(chat_message_reaction_user(d, i, j),
                             chat_message_reaction_user(m, i, j));
        }
    }

    /* Mutate every owned part of the copy; the original must not move. */
    d->text[0] = 'J';
    d->subtype[0] = 'X';
    d->client_msg_id[0] = 'X';
    d->reactions[0].name[0] = 'X';
    d->reactions[2].users[1][0] = 'X';
    d->reply_users[0][0] = 'X';
    d->files[1][0] = 'X';
    d->mentions[2][0] = 'X';
    strcpy(d->ts, "1.000000");

    ck_assert_str_eq(chat_message_text(m), "hello <@U0000000003> \xc3\xa9t\xc3\xa9");
    ck_assert_str_eq(chat_message_subtype(m), "file_share");
    ck_assert_str_eq(chat_message_client_msg_id(m), "client-1");
    ck_assert_str_eq(chat_message_reaction_name(m, 0), "thumbsup");
    ck_assert_str_eq(chat_message_reaction_user(m, 2, 1), "U0000000004");
    ck_assert_str_eq(chat_message_reply_user(m, 0), "U0000000001");
    ck_assert_str_eq(chat_message_file_id(m, 1), "F0000000002");
    ck_assert_str_eq(chat_message_mention(m, 2), "U0000000005");
    ck_assert_str_eq(chat_message_ts(m), "1732600000.000100");

    chat_message_free(d);
    chat_message_free(m);

    /* An empty message copies to an empty message. */
    m = chat_message_new();
    d = chat_message_dup(m);
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_null(d->text);
    ck_assert_ptr_null(d->reactions);
    chat_message_free(d);
    chat_message_free(m);
    ck_assert_ptr_null(chat_message_dup(NULL));
}
END_TEST

START_TEST(dup_channel_deep)
{
    chat_channel *c = full_channel();
    chat_channel *d = chat_channel_dup(c);

    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_ne(d->name, c->name);
    d->name[0] = 'X';
    d->topic[0] = 'X';
    d->purpose[0] = 'X';
    d->dm_key[0] = 'X';
    d->id[0] = 'X';
    ck_assert_str_eq(chat_channel_name(c), "general");
    ck_assert_str_eq(chat_channel_topic(c), "the topic");
    ck_assert_str_eq(chat_channel_purpose(c), "the purpose");
    ck_assert_str_eq(c->dm_key, "U1,U2");
    ck_assert_str_eq(chat_channel_id(c), "C0000000001");
    ck_assert_int_eq(chat_channel_member_count(d), 42);
    ck_assert_str_eq(chat_channel_last_read(d), "1732600002.000000");
    chat_channel_free(d);
    chat_channel_free(c);
    ck_assert_ptr_null(chat_channel_dup(NULL));
}
END_TEST

START_TEST(dup_user_deep)
{
    chat_user *u = full_user();
    chat_user *d = chat_user_dup(u);

    ck_assert_ptr_nonnull(d);
    d->email[0] = 'X';
    d->name[0] = 'X';
    d->real_name[0] = 'X';
    d->display_name[0] = 'X';
    d->title[0] = 'X';
    d->status_text[0] = 'X';
    d->status_emoji[0] = 'X';
    d->tz[0] = 'X';
    ck_assert_str_eq(chat_user_email(u), "ann@example.com");
    ck_assert_str_eq(chat_user_name(u), "ann");
    ck_assert_str_eq(chat_user_real_name(u), "Ann Example");
    ck_assert_str_eq(chat_user_display_name(u), "annie");
    ck_assert_str_eq(chat_user_title(u), "Engineer");
    ck_assert_str_eq(chat_user_status_text(u), "busy");
    ck_assert_str_eq(chat_user_status_emoji(u), "calendar");
    ck_assert_str_eq(chat_user_tz(u), "Europe/Paris");
    ck_assert(chat_user_is_admin(d));
    ck_assert_int_eq(chat_user_updated(d), 1732600009);
    chat_user_free(d);
    chat_user_free(u);
    ck_assert_ptr_null(chat_user_dup(NULL));
}
END_TEST

/* ----------------------------------------------------------- accessors --- */

START_TEST(accessors_empty)
{
    chat_team *t = chat_team_new();
    chat_user *u = chat_user_new();
    chat_channel *c = chat_channel_new();
    chat_message *m = chat_message_new();
    chat_file *f = chat_file_new();

    /* Fresh entities and NULL handles read the same: "" and 0, never NULL. */
    for (int pass = 0; pass < 2; pass++) {
        const chat_team *tt = pass ? NULL : t;
        const chat_user *uu = pass ? NULL : u;
        const chat_channel *cc = pass ? NULL : c;
        const chat_message *mm = pass ? NULL : m;
        const chat_file *ff = pass ? NULL : f;

        ck_assert_str_eq(chat_team_id(tt), "");
        ck_assert_str_eq(chat_team_name(tt), "");
        ck_assert_str_eq(chat_team_domain(tt), "");

        ck_assert_str_eq(chat_user_id(uu), "");
        ck_assert_str_eq(chat_user_team_id(uu), "");
        ck_assert_str_eq(chat_user_email(uu), "");
        ck_assert_str_eq(chat_user_name(uu), "");
        ck_assert_str_eq(chat_user_real_name(uu), "");
        ck_assert_str_eq(chat_user_display_name(uu), "");
        ck_assert_str_eq(chat_user_title(uu), "");
        ck_assert_str_eq(chat_user_status_text(uu), "");
        ck_assert_str_eq(chat_user_status_emoji(uu), "");
        ck_assert_str_eq(chat_user_tz(uu), "");
        ck_assert(!chat_user_is_admin(uu));
        ck_assert(!chat_user_is_deleted(uu));
        ck_assert_int_eq(chat_user_updated(uu), 0);

        ck_assert_str_eq(chat_channel_id(cc), "");
        ck_assert_str_eq(chat_channel_team_id(cc), "");
        ck_assert_str_eq(chat_channel_name(cc), "");
        ck_assert_int_eq(chat_channel_type_of(cc), 0);
        ck_assert_str_eq(chat_channel_creator(cc), "");
        ck_assert_int_eq(chat_channel_created(cc), 0);
        ck_assert_str_eq(chat_channel_topic(cc), "");
        ck_assert_str_eq(chat_channel_topic_creator(cc), "");
        ck_assert_int_eq(chat_channel_topic_last_set(cc), 0);
        ck_assert_str_eq(chat_channel_purpose(cc), "");
        ck_assert_str_eq(chat_channel_purpose_creator(cc), "");
        ck_assert_int_eq(chat_channel_purpose_last_set(cc), 0);
        ck_assert(!chat_channel_is_archived(cc));
        ck_assert(!chat_channel_is_general(cc));
        ck_assert_int_eq(chat_channel_member_count(cc), 0);
        ck_assert_str_eq(chat_channel_last_activity(cc), "");
        ck_assert(!chat_channel_is_member(cc));
        ck_assert_str_eq(chat_channel_last_read(cc), "");
        ck_assert_int_eq(chat_channel_unread_count(cc), 0);
        ck_assert_int_eq(chat_channel_mention_count(cc), 0);

        ck_assert_str_eq(chat_message_channel(mm), "");
        ck_assert_str_eq(chat_message_ts(mm), "");
        ck_assert_str_eq(chat_message_user(mm), "");
        ck_assert_str_eq(chat_message_text(mm), "");
        ck_assert_str_eq(chat_message_subtype(mm), "");
        ck_assert_str_eq(chat_message_thread_ts(mm), "");
        ck_assert_str_eq(chat_message_client_msg_id(mm), "");
        ck_assert_str_eq(chat_message_edited_ts(mm), "");
        ck_assert_str_eq(chat_message_edited_user(mm), "");
        ck_assert_int_eq(chat_message_reply_count(mm), 0);
        ck_assert_str_eq(chat_message_latest_reply(mm), "");
        ck_assert_uint_eq(chat_message_reply_user_count(mm), 0);
        ck_assert_ptr_null(chat_message_reply_user(mm, 0));
        ck_assert_uint_eq(chat_message_reaction_count(mm), 0);
        ck_assert_ptr_null(chat_message_reaction_name(mm, 0));
        ck_assert_uint_eq(chat_message_reaction_user_count(mm, 0), 0);
        ck_assert_ptr_null(chat_message_reaction_user(mm, 0, 0));
        ck_assert_uint_eq(chat_message_file_count(mm), 0);
        ck_assert_ptr_null(chat_message_file_id(mm, 0));
        ck_assert_uint_eq(chat_message_mention_count(mm), 0);
        ck_assert_ptr_null(chat_message_mention(mm, 0));
        ck_assert(!chat_message_mentions_channel(mm));
        ck_assert(!chat_message_mentions_here(mm));
        ck_assert(!chat_message_is_reply_broadcast(mm));

        ck_assert_str_eq(chat_file_id(ff), "");
        ck_assert_str_eq(chat_file_user(ff), "");
        ck_assert_str_eq(chat_file_name(ff), "");
        ck_assert_str_eq(chat_file_title(ff), "");
        ck_assert_str_eq(chat_file_mimetype(ff), "");
        ck_assert_int_eq(chat_file_size(ff), 0);
        ck_assert_str_eq(chat_file_sha256(ff), "");
        ck_assert_int_eq(chat_file_created(ff), 0);
        ck_assert_uint_eq(chat_file_channel_count(ff), 0);
        ck_assert_ptr_null(chat_file_channel(ff, 0));
    }
    chat_team_free(t);
    chat_user_free(u);
    chat_channel_free(c);
    chat_message_free(m);
    chat_file_free(f);
}
END_TEST

START_TEST(accessors_full)
{
    chat_message *m = full_message();
    chat_channel *c = full_channel();
    chat_file *f = full_file();
    chat_team *t = chat_team_new();

    strcpy(t->id, "T0000000001");
    t->name = chat_strdup("Acme");
    t->domain = chat_strdup("acme");
    ck_assert_str_eq(chat_team_id(t), "T0000000001");
    ck_assert_str_eq(chat_team_name(t), "Acme");
    ck_assert_str_eq(chat_team_domain(t), "acme");

    ck_assert_str_eq(chat_message_channel(m), "C0000000001");
    ck_assert_str_eq(chat_message_user(m), "U0000000009");
    ck_assert_str_eq(chat_message_thread_ts(m), "1732600000.000100");
    ck_assert_str_eq(chat_message_edited_ts(m), "1732600001.000000");
    ck_assert_str_eq(chat_message_edited_user(m), "U0000000009");
    ck_assert_int_eq(chat_message_reply_count(m), 2);
    ck_assert_str_eq(chat_message_latest_reply(m), "1732600002.000000");
    ck_assert_uint_eq(chat_message_reply_user_count(m), 2);
    ck_assert_str_eq(chat_message_reply_user(m, 1), "U0000000002");
    ck_assert_ptr_null(chat_message_reply_user(m, 2));
    ck_assert_uint_eq(chat_message_reaction_count(m), 3);
    ck_assert_str_eq(chat_message_reaction_name(m, 2), "+1");
    ck_assert_ptr_null(chat_message_reaction_name(m, 3));
    ck_assert_uint_eq(chat_message_reaction_user_count(m, 2), 3);
    ck_assert_uint_eq(chat_message_reaction_user_count(m, 3), 0);
    ck_assert_str_eq(chat_message_reaction_user(m, 2, 2), "U0000000005");
    ck_assert_ptr_null(chat_message_reaction_user(m, 2, 3));
    ck_assert_ptr_null(chat_message_reaction_user(m, 0, 1));
    ck_assert_uint_eq(chat_message_file_count(m), 2);
    ck_assert_str_eq(chat_message_file_id(m, 0), "F0000000001");
    ck_assert_ptr_null(chat_message_file_id(m, 2));
    ck_assert_uint_eq(chat_message_mention_count(m), 3);
    ck_assert_ptr_null(chat_message_mention(m, 3));
    ck_assert(chat_message_mentions_channel(m));
    ck_assert(chat_message_mentions_here(m));
    ck_assert(chat_message_is_reply_broadcast(m));

    ck_assert_int_eq(chat_channel_type_of(c), CHAT_CHANNEL_PUBLIC);
    ck_assert_str_eq(chat_channel_creator(c), "U0000000001");
    ck_assert_str_eq(chat_channel_topic_creator(c), "U0000000002");
    ck_assert_str_eq(chat_channel_purpose_creator(c), "U0000000003");
    ck_assert_int_eq(chat_channel_created(c), 1732600000);
    ck_assert_int_eq(chat_channel_topic_last_set(c), 1732600001);
    ck_assert_int_eq(chat_channel_purpose_last_set(c), 1732600002);
    ck_assert(chat_channel_is_general(c));
    ck_assert(chat_channel_is_member(c));
    ck_assert_str_eq(chat_channel_last_activity(c), "1732600003.000000");
    ck_assert_int_eq(chat_channel_unread_count(c), 3);
    ck_assert_int_eq(chat_channel_mention_count(c), 1);

    ck_assert_str_eq(chat_file_id(f), "F0000000001");
    ck_assert_str_eq(chat_file_user(f), "U0000000001");
    ck_assert_str_eq(chat_file_title(f), "A");
    ck_assert_str_eq(chat_file_mimetype(f), "text/plain");
    ck_assert_int_eq(chat_file_size(f), 12);
    ck_assert_uint_eq(strlen(chat_file_sha256(f)), 64);
    ck_assert_uint_eq(chat_file_channel_count(f), 2);
    ck_assert_str_eq(chat_file_channel(f, 1), "C0000000002");
    ck_assert_ptr_null(chat_file_channel(f, 2));

    chat_team_free(t);
    chat_message_free(m);
    chat_channel_free(c);
    chat_file_free(f);
}
END_TEST

/* ------------------------------------------------------------- helpers --- */

START_TEST(copy_fixed)
{
    char buf[CHAT_TS_SIZE];
    char big[64];

    ck_assert(chati_copy_fixed(buf, sizeof(buf), "1732600000.000100"));
    ck_assert_str_eq(buf, "1732600000.000100");
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[CHAT_TS_SIZE] = '\0'; /* one character too many */
    ck_assert(!chati_copy_fixed(buf, sizeof(buf), big));
    ck_assert_str_eq(buf, "");
    big[CHAT_TS_SIZE - 1] = '\0'; /* exactly fits */
    ck_assert(chati_copy_fixed(buf, sizeof(buf), big));
    ck_assert_str_eq(buf, big);
    ck_assert(chati_copy_fixed(buf, sizeof(buf), NULL));
    ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(ids_dup)
{
    static const char *const src[] = {"U1", "U2", "U3"};
    char(*a)[CHAT_ID_SIZE] = ids_of(src, 3);
    char(*b)[CHAT_ID_SIZE];

    ck_assert_ptr_null(chati_ids_dup((const char(*)[CHAT_ID_SIZE])a, 0));
    ck_assert_ptr_null(chati_ids_dup(NULL, 3));
    b = chati_ids_dup((const char(*)[CHAT_ID_SIZE])a, 3);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    b[0][1] = '9';
    ck_assert_str_eq(a[0], "U1");
    ck_assert_str_eq(b[0], "U9");
    ck_assert_str_eq(b[2], "U3");
    chat_free(a);
    chat_free(b);
}
END_TEST

START_TEST(free_null_and_misc)
{
    chat_credential *cr = chat_credential_new();
    chat_outbox_item *items = chat_calloc(2, sizeof(chat_outbox_item));
    chat_reaction *r = chat_calloc(2, sizeof(chat_reaction));

    chat_team_free(NULL);
    chat_user_free(NULL);
    chat_channel_free(NULL);
    chat_message_free(NULL);
    chat_file_free(NULL);
    chat_credential_free(NULL);
    chat_outbox_items_free(NULL, 3);
    chati_reactions_free(NULL, 3);

    ck_assert_ptr_nonnull(cr);
    cr->email = chat_strdup("a@b.co");
    cr->pwhash = chat_strdup("$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA");
    chat_credential_free(cr);

    items[0].topic = chat_strdup("message.created");
    items[0].key = chat_strdup("C1");
    items[0].data = chat_malloc(10);
    items[0].len = 10;
    chat_outbox_items_free(items, 2);

    r[1].name = chat_strdup("tada");
    r[1].users = chat_calloc(1, CHAT_ID_SIZE);
    r[1].n_users = 1;
    chati_reactions_free(r, 2);
}
END_TEST

/* A thread's failure detail is its own: another thread's failure neither
 * shows up in it nor replaces it. */
static void *fail_in_thread(void *arg)
{
    char *seen = arg;
    snprintf(seen, 256, "%s", chat_last_errmsg());
    chat_config *cfg = NULL;
    ck_assert_int_eq(chat_config_new(&cfg), CHAT_OK);
    (void)chat_config_set(cfg, "no.such.key.in.thread", "1", NULL, 0);
    chat_config_free(cfg);
    snprintf(seen + 128, 128, "%s", chat_last_errmsg());
    return NULL;
}

START_TEST(last_errmsg_is_per_thread)
{
    chat_config *cfg = NULL;
    ck_assert_int_eq(chat_config_new(&cfg), CHAT_OK);
    ck_assert_int_eq(chat_config_set(cfg, "no.such.key.in.main", "1", NULL, 0),
                     CHAT_ERR_INVALID_CONFIG);
    ck_assert_ptr_nonnull(strstr(chat_last_errmsg(), "no.such.key.in.main"));
    char seen[256] = "";
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, fail_in_thread, seen), 0);
    pthread_join(t, NULL);
    ck_assert_str_eq(seen, "");                    /* nothing of main's failure */
    ck_assert_ptr_nonnull(strstr(seen + 128, "no.such.key.in.thread"));
    ck_assert_ptr_nonnull(strstr(chat_last_errmsg(), "no.such.key.in.main"));
    chat_config_free(cfg);
}
END_TEST

static Suite *
entities_suite(void)
{
    Suite *s = suite_create("entities");
    TCase *tc;

    tc = tcase_create("list");
    tcase_add_test(tc, list_push_take);
    tcase_add_test(tc, list_grows);
    tcase_add_test(tc, list_strings_copied);
    tcase_add_test(tc, list_kind_mismatch);
    tcase_add_test(tc, list_cursor);
    tcase_add_test(tc, list_every_kind_frees);
    suite_add_tcase(s, tc);

    tc = tcase_create("dup");
    tcase_add_test(tc, dup_message_deep);
    tcase_add_test(tc, dup_channel_deep);
    tcase_add_test(tc, dup_user_deep);
    suite_add_tcase(s, tc);

    tc = tcase_create("accessors");
    tcase_add_test(tc, accessors_empty);
    tcase_add_test(tc, accessors_full);
    suite_add_tcase(s, tc);

    tc = tcase_create("helpers");
    tcase_add_test(tc, copy_fixed);
    tcase_add_test(tc, ids_dup);
    tcase_add_test(tc, free_null_and_misc);
    tcase_add_test(tc, last_errmsg_is_per_thread);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return chat_test_run(entities_suite());
}
