/*
 * libchat/proto/event_codec.h - the in-memory chat_event and its protobuf
 * encoding (chat.Event in event.proto). Internal; not installed.
 *
 * Thread safety: the functions are reentrant; an event is owned by one thread
 * at a time, and once published it is only read.
 */
#ifndef CHATI_EVENT_CODEC_H
#define CHATI_EVENT_CODEC_H

#include "core/internal.h"

/* Room for an event id: "E" + 32 hex digits + NUL, with slack for longer
 * ids from other producers. */
#define CHATI_EVENT_ID_SIZE 40

struct chat_event {
    chat_event_type type;
    char id[CHATI_EVENT_ID_SIZE];
    int64_t time_us;                    /* microseconds since the epoch */
    char team_id[CHAT_ID_SIZE];
    char channel_id[CHAT_ID_SIZE];      /* "" when none */
    char user_id[CHAT_ID_SIZE];         /* who acted */
    char target_user[CHAT_ID_SIZE];     /* member joined/left, user changed */
    char item_ts[CHAT_TS_SIZE];         /* reactions, marks */
    char *reaction;                     /* owned (chat_malloc); NULL when none */
    char *data;                         /* view.changed: JSON, owned; NULL when none */
    char file_id[CHAT_ID_SIZE];
    chat_presence presence;
    chat_message *message;              /* owned payloads; NULL when none */
    chat_channel *channel;
    chat_user *user;
    chat_message *previous;             /* message.changed: before the change */
    chat_channel_type channel_type;     /* message and reaction events; 0: unknown */
};

/* A zeroed event of `type` with a fresh id ("E" + 32 upper-case hex digits
 * from 16 random bytes, unique across processes) and time_us = now. NULL on
 * allocation or randomness failure, or an out-of-range type (detail set). Free
 * with chati_event_free(). */
chat_event *chati_event_new(chat_event_type type);

/* Frees ev, its reaction string and its payloads. NULL is a no-op. */
void chati_event_free(chat_event *ev);

/* Encodes ev as a chat.Event into one exact-size buffer. On CHAT_OK *data (free
 * with chat_free) and *len are set; on failure they are untouched. */
chat_err chati_event_encode(const chat_event *ev, void **data, size_t *len);

/* Decodes a chat.Event. Rejects with CHAT_ERR_INVALID_ARGUMENTS anything that
 * is not a well-formed event: bad protobuf, a missing or oversized id, an
 * unknown type or presence, an id or ts too long for its fixed field, strings
 * that are not UTF-8. Empty strings decode as NULL char * fields. *out (free
 * with chati_event_free) is set only on CHAT_OK. */
chat_err chati_event_decode(const void *data, size_t len, chat_event **out);

#endif
