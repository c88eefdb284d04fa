/* libchat/domain/recent_ids.c - see recent_ids.h. */
#include "domain/recent_ids.h"

#include <string.h>

#include "core/internal.h"

#define SLOTS (2 * CHATI_RECENT_IDS) /* at most half full: short probes */

static size_t slot_of(const char *id)
{
    return (size_t)(chati_hash_str(id) % SLOTS);
}

static bool gen_has(const chati_recent_gen *g, const char *id)
{
    for (size_t i = slot_of(id);; i = (i + 1) % SLOTS) {
        if (g->ids[i][0] == '\0')
            return false;
        if (strcmp(g->ids[i], id) == 0)
            return true;
    }
}

bool chati_recent_ids_init(chati_recent_ids *r)
{
    memset(r, 0, sizeof *r);
    for (int k = 0; k < 2; k++)
        if ((r->gen[k].ids = chat_calloc(SLOTS, sizeof *r->gen[k].ids)) == NULL) {
            chati_recent_ids_free(r);
            return false;
        }
    return true;
}

void chati_recent_ids_free(chati_recent_ids *r)
{
    for (int k = 0; k < 2; k++) {
        chat_free(r->gen[k].ids);
        r->gen[k].ids = NULL;
    }
}

bool chati_recent_ids_has(const chati_recent_ids *r, const char *id)
{
    return id[0] != '\0' && (gen_has(&r->gen[0], id) || gen_has(&r->gen[1], id));
}

void chati_recent_ids_add(chati_recent_ids *r, const char *id)
{
    if (id[0] == '\0' || strlen(id) >= CHATI_EVENT_ID_SIZE || chati_recent_ids_has(r, id))
        return;
    chati_recent_gen *g = &r->gen[0];
    if (g->n == CHATI_RECENT_IDS) {
        /* The newer generation is full: it becomes the older one. */
        chati_recent_gen old = r->gen[1];
        r->gen[1] = r->gen[0];
        memset(old.ids, 0, SLOTS * sizeof *old.ids);
        old.n = 0;
        r->gen[0] = old;
    }
    size_t i = slot_of(id);
    while (g->ids[i][0] != '\0')
        i = (i + 1) % SLOTS;
    memcpy(g->ids[i], id, strlen(id) + 1);
    g->n++;
}
