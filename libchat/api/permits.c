/* Which tokens may call which methods: an app-level token only Socket
 * Mode's, a bot token within its scopes (Slack's scope for each method; any
 * one of a row's scopes will do), a person's token anything. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "domain/ctx.h"
#include "api/method.h"

typedef struct method_scopes {
    const char *method;
    const char *scopes; /* any of these, comma-separated */
} method_scopes;

#define READ "channels:read,groups:read,im:read,mpim:read"
#define HISTORY "channels:history,groups:history,im:history,mpim:history"
#define MANAGE "channels:manage,groups:write,im:write,mpim:write"

/* Sorted by method for bsearch. */
static const method_scopes table[] = {
    {"bookmarks.add", "bookmarks:write"},
    {"bookmarks.edit", "bookmarks:write"},
    {"bookmarks.list", "bookmarks:read"},
    {"bookmarks.remove", "bookmarks:write"},
    {"chat.delete", "chat:write"},
    {"chat.deleteScheduledMessage", "chat:write"},
    {"chat.getPermalink", HISTORY},
    {"chat.meMessage", "chat:write"},
    {"chat.postEphemeral", "chat:write"},
    {"chat.postMessage", "chat:write"},
    {"chat.scheduleMessage", "chat:write"},
    {"chat.scheduledMessages.list", "chat:write"},
    {"chat.update", "chat:write"},
    {"conversations.archive", MANAGE},
    {"conversations.create", "channels:manage,groups:write"},
    {"conversations.history", HISTORY},
    {"conversations.info", READ},
    {"conversations.invite", MANAGE},
    {"conversations.join", "channels:join"},
    {"conversations.kick", MANAGE},
    {"conversations.leave", MANAGE},
    {"conversations.list", READ},
    {"conversations.mark", MANAGE},
    {"conversations.members", READ},
    {"conversations.open", "im:write,mpim:write"},
    {"conversations.rename", MANAGE},
    {"conversations.replies", HISTORY},
    {"conversations.setPurpose", MANAGE},
    {"conversations.setTopic", MANAGE},
    {"conversations.unarchive", MANAGE},
    {"dnd.info", "dnd:read"},
    {"emoji.list", "emoji:read"},
    {"files.completeUploadExternal", "files:write"},
    {"files.delete", "files:write"},
    {"files.download", "files:read"},
    {"files.getUploadURLExternal", "files:write"},
    {"files.info", "files:read"},
    {"files.list", "files:read"},
    {"files.upload", "files:write"},
    {"pins.add", "pins:write"},
    {"pins.list", "pins:read"},
    {"pins.remove", "pins:write"},
    {"reactions.add", "reactions:write"},
    {"reactions.get", "reactions:read"},
    {"reactions.list", "reactions:read"},
    {"reactions.remove", "reactions:write"},
    {"search.all", "search:read"},
    {"search.files", "search:read"},
    {"search.messages", "search:read"},
    {"team.info", "team:read"},
    {"usergroups.create", "usergroups:write"},
    {"usergroups.disable", "usergroups:write"},
    {"usergroups.enable", "usergroups:write"},
    {"usergroups.list", "usergroups:read"},
    {"usergroups.update", "usergroups:write"},
    {"usergroups.users.list", "usergroups:read"},
    {"usergroups.users.update", "usergroups:write"},
    {"users.conversations", READ},
    {"users.getPresence", "users:read"},
    {"users.info", "users:read"},
    {"users.list", "users:read"},
    {"users.lookupByEmail", "users:read.email"},
    {"users.profile.get", "users.profile:read"},
    {"users.profile.set", "users:write"},
    {"users.setPresence", "users:write"},
    {"webhooks.create", "incoming-webhook"},
};

/* Each row's scopes as bits, parsed once; 0 marks a row that did not parse. */
static uint64_t table_bits[CHATI_ARRAY_LEN(table)];
static bool table_sorted;
/* The RTM stream carries every message of the bot's channels: HISTORY. */
static uint64_t stream_bits;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void parse_table(void)
{
    table_sorted = true;
    if (chati_scopes_parse(HISTORY, true, &stream_bits) != CHAT_OK)
        stream_bits = 0;
    for (size_t i = 0; i < CHATI_ARRAY_LEN(table); i++) {
        if (chati_scopes_parse(table[i].scopes, true, &table_bits[i]) != CHAT_OK)
            table_bits[i] = 0;
        if (i > 0 && strcmp(table[i - 1].method, table[i].method) >= 0)
            table_sorted = false;
    }
}

static int cmp(const void *key, const void *row)
{
    return strcmp(key, ((const method_scopes *)row)->method);
}

static const method_scopes *row_of(const char *method)
{
    return bsearch(method, table, CHATI_ARRAY_LEN(table), sizeof table[0], cmp);
}

const char *chati_method_scopes(const char *method)
{
    const method_scopes *r = row_of(method);
    return r ? r->scopes : NULL;
}

bool chati_method_scopes_ok(void)
{
    pthread_once(&table_once, parse_table);
    for (size_t i = 0; i < CHATI_ARRAY_LEN(table); i++)
        if (table_bits[i] == 0 || chati_method_by_name(table[i].method) == NULL)
            return false;
    return table_sorted && stream_bits != 0;
}

chat_err chati_method_permits(const chati_method *m, const chat_session *s)
{
    /* Internal methods too: files.upload and files.download are internal and
     * reached from HTTP; the peers' methods have no row, so a bot's session
     * passes through them, and an app-level token never gets that far. */
    if (s == NULL)
        return CHAT_OK;
    bool app_only = (m->flags & CHATI_M_APP_TOKEN) != 0;
    if ((s->kind == CHAT_TOKEN_APP) != app_only)
        return chati_fail(CHAT_ERR_NOT_ALLOWED_TOKEN_TYPE, "%s takes %s", m->name,
                          app_only ? "an app-level token (xapp-)" : "a bot or user token");
    const method_scopes *r = s->kind == CHAT_TOKEN_BOT ? row_of(m->name) : NULL;
    if (r == NULL)
        return CHAT_OK;
    pthread_once(&table_once, parse_table);
    if ((s->scopes & table_bits[r - table]) == 0)
        return chati_fail(CHAT_ERR_MISSING_SCOPE, "needed: %s", r->scopes);
    return CHAT_OK;
}

chat_err chati_stream_permits(const chat_session *s)
{
    switch (s ? s->kind : CHAT_TOKEN_USER) {
    case CHAT_TOKEN_USER:
        return CHAT_OK;
    case CHAT_TOKEN_BOT:
        pthread_once(&table_once, parse_table);
        if ((s->scopes & stream_bits) != 0)
            return CHAT_OK;
        return chati_fail(CHAT_ERR_MISSING_SCOPE, "needed: %s", HISTORY);
    default:
        return chati_fail(CHAT_ERR_NOT_ALLOWED_TOKEN_TYPE,
                          "the event stream takes a bot or user token");
    }
}
