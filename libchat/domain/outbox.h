/*
 * libchat/domain/outbox.h - relays the message store's outbox to the broker.
 *
 * A change to messages writes its event into the store's outbox in the same
 * transaction, then kicks the relay. The relay thread publishes outbox items in
 * seq order and deletes them once the broker acknowledges them, so an
 * acknowledged post reaches consumers even if the broker was down or the
 * process died in between (items left over are published at the next start;
 * consumers drop the duplicates by event id).
 */
#ifndef CHATI_OUTBOX_H
#define CHATI_OUTBOX_H

#include <chat/backend/broker.h>
#include <chat/backend/store.h>

typedef struct chati_outbox chati_outbox;

chat_err chati_outbox_start(const chat_message_store_ops *store, void *store_impl,
                            const chat_broker_ops *broker, void *broker_impl,
                            chati_outbox **out);
/* Wakes the relay: there is something new in the outbox. Cheap. */
void chati_outbox_kick(chati_outbox *o);
/* Waits until everything in the outbox at call time has been acknowledged. */
chat_err chati_outbox_flush(chati_outbox *o, int timeout_ms);
/* Stops the relay thread (what is left stays in the store for next time). */
void chati_outbox_stop(chati_outbox *o);
/* Frees the relay once the broker is closed: acks may arrive until then. */
void chati_outbox_free(chati_outbox *o);

#endif
