/*
 * embed.c - libchat embedded in a program: sign up, create a channel, post,
 * read the history back. Build against an installed libchat with
 *   cc embed.c $(pkg-config --cflags --libs libchat)
 * or with CMake: find_package(libchat) + target_link_libraries(app chat::chat).
 * Usage: embed [DATA_DIR]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chat/chat.h>

#define CHECK(call)                                                                      \
    do {                                                                                 \
        chat_err rv_ = (call);                                                           \
        if (rv_ != CHAT_OK) {                                                            \
            fprintf(stderr, "%s: %s (%s)\n", #call, chat_err_name(rv_), chat_last_errmsg()); \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

int main(int argc, char **argv)
{
    chat_ctx *ctx = NULL;
    chat_config *cfg = NULL;
    char err[256];
    CHECK(chat_config_new(&cfg));
    CHECK(chat_config_set(cfg, "data_dir", argc > 1 ? argv[1] : "./embed-data", err, sizeof err));
    /* Cheap password hashing keeps the example quick; keep the defaults in production. */
    CHECK(chat_config_set(cfg, "argon2.m_cost_kib", "8192", err, sizeof err));
    if (chat_open(&ctx, cfg, err, sizeof err) != CHAT_OK) {
        fprintf(stderr, "chat_open: %s\n", err);
        return 1;
    }
    chat_config_free(cfg);

    chat_user *ada = NULL;
    char *token = NULL;
    chat_session *s = NULL;
    chat_err rv = chat_auth_signup(ctx, "ada@example.com", "correct horse battery", "Ada",
                                   NULL, &ada, &token);
    if (rv == CHAT_ERR_EMAIL_TAKEN) /* a second run: log in instead */
        CHECK(chat_auth_login(ctx, "ada@example.com", "correct horse battery", &token));
    else
        CHECK(rv);
    CHECK(chat_auth_verify(ctx, token, &s));
    printf("signed up %s as %s\n", "ada@example.com", chat_session_user_id(s));

    chat_channel *ch = NULL;
    rv = chat_channel_create(ctx, s, "random-thoughts", false, &ch);
    if (rv == CHAT_ERR_NAME_TAKEN) {
        chat_list *l = NULL;
        CHECK(chat_channel_list(ctx, s, CHAT_CHANNEL_PUBLIC, false, NULL, 0, &l));
        for (size_t i = 0; i < chat_list_count(l) && ch == NULL; i++)
            if (strcmp(chat_channel_name(chat_list_channel(l, i)), "random-thoughts") == 0)
                CHECK(chat_channel_info(ctx, s, chat_channel_id(chat_list_channel(l, i)), &ch));
        chat_list_free(l);
    } else {
        CHECK(rv);
    }
    printf("channel #%s is %s\n", chat_channel_name(ch), chat_channel_id(ch));

    chat_message *m = NULL;
    CHECK(chat_message_post(ctx, s, chat_channel_id(ch), "Hello from an embedded libchat!",
                            NULL, NULL, 0, &m));
    printf("posted at %s\n", chat_message_ts(m));

    chat_list *history = NULL;
    CHECK(chat_message_history(ctx, s, chat_channel_id(ch), NULL, NULL, false, 10, NULL,
                               &history));
    printf("history of #%s (%zu messages):\n", chat_channel_name(ch), chat_list_count(history));
    for (size_t i = chat_list_count(history); i-- > 0;) {
        const chat_message *h = chat_list_message(history, i);
        printf("  [%s] %s: %s\n", chat_message_ts(h), chat_message_user(h),
               chat_message_text(h));
    }

    chat_list_free(history);
    chat_message_free(m);
    chat_channel_free(ch);
    chat_session_free(s);
    chat_free(token);
    chat_user_free(ada);
    chat_close(ctx);
    return 0;
}
