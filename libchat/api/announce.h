/*
 * libchat/api/announce.h - keeps one address registered in the context's
 * discovery under a name ("auth", ..., "gateway"), from a thread of its own
 * that renews it every third of its time to live (server.announce_ttl), so
 * one missed renewal does not drop it; stopping withdraws it.
 *
 * Thread safety: start and stop from one thread; the announcer runs on its own.
 */
#ifndef CHATI_API_ANNOUNCE_H
#define CHATI_API_ANNOUNCE_H

#include "domain/ctx.h"

typedef struct chati_announcer chati_announcer;

/* The time to live of registrations: server.announce_ttl (2..3600, [5]);
 * invalid_config when it is not a number in range. */
chat_err chati_announce_ttl(const chat_ctx *ctx, int *ttl_s);

/* Starts announcing address as name. *out is NULL, and nothing runs, when
 * ctx's discovery cannot announce (none, or read-only: another system
 * registers instances). */
chat_err chati_announcer_start(chat_ctx *ctx, const char *name, const char *address,
                               chati_announcer **out);
/* Stops renewing and withdraws the address (callers stop picking it). NULL
 * is a no-op. */
void chati_announcer_stop(chati_announcer *a);

#endif
