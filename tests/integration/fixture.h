/*
 * tests/integration/fixture.h - a libchat context on the embedded backends in
 * a fresh temporary directory, and people signed up in it.
 */
#ifndef CHAT_TEST_FIXTURE_H
#define CHAT_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct person {
    chat_user *user;
    chat_session *s;
    char *token;
    const char *id;
} person;

/* Opens a context in a new temp dir (cheap argon2 so tests stay fast). Extra
 * keys come in pairs, NULL-terminated. */
chat_ctx *fixture_open(char **dir_out, ...);
void fixture_close(chat_ctx *ctx, char *dir);
/* Signs up email with a fixed password; fails the test on error. */
person fixture_person(chat_ctx *ctx, const char *email);
void fixture_person_free(person *p);
/* Creates a public channel; returns its id (static storage per call site is
 * not safe: the caller frees it with free()). */
char *fixture_channel(chat_ctx *ctx, const person *p, const char *name, bool is_private);

#define FIXTURE_PASSWORD "correct horse battery"

#endif
