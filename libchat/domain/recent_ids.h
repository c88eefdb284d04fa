/*
 * libchat/domain/recent_ids.h - the ids of the last events a subscription
 * handled, so one the broker delivers again (at-least-once: an outbox resend,
 * a redelivered batch) reaches the subscriber once.
 *
 * Two generations of at most CHATI_RECENT_IDS ids each: when the newer fills,
 * it becomes the older and the older is forgotten. So an id is remembered for
 * at least CHATI_RECENT_IDS later ids, with no per-id eviction.
 *
 * Thread safety: none; one per subscription, used by its consumer thread.
 */
#ifndef CHATI_DOMAIN_RECENT_IDS_H
#define CHATI_DOMAIN_RECENT_IDS_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/event_codec.h"

#define CHATI_RECENT_IDS 4096

typedef struct chati_recent_gen {
    size_t n;
    char (*ids)[CHATI_EVENT_ID_SIZE]; /* 2 * CHATI_RECENT_IDS slots, "" = free */
} chati_recent_gen;

typedef struct chati_recent_ids {
    chati_recent_gen gen[2]; /* [0] newer, [1] older */
} chati_recent_ids;

/* Allocates the tables; false when out of memory. */
bool chati_recent_ids_init(chati_recent_ids *r);
void chati_recent_ids_free(chati_recent_ids *r);
/* Whether id is among the remembered ids ("" never is). */
bool chati_recent_ids_has(const chati_recent_ids *r, const char *id);
/* Remembers id (ignored when "" or already there). */
void chati_recent_ids_add(chati_recent_ids *r, const char *id);

#endif
