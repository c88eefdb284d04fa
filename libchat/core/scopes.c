/* Slack's OAuth scopes an app's bot may hold, as bits of a uint64_t: a
 * session's scopes are checked on every call, so they are parsed once, when
 * the token is verified. */
#include <string.h>

#include "core/internal.h"

/* Bit i is 1 << i. Append only: bits travel between services. */
static const char *const scope_names[] = {
    "app_mentions:read", "bookmarks:read",  "bookmarks:write",  "calls:read",
    "calls:write",       "channels:history", "channels:join",   "channels:manage",
    "channels:read",     "chat:write",      "chat:write.customize", "chat:write.public",
    "commands",          "dnd:read",        "emoji:read",       "files:read",
    "files:write",       "groups:history",  "groups:read",      "groups:write",
    "im:history",        "im:read",         "im:write",         "links:read",
    "links:write",       "metadata.message:read", "mpim:history", "mpim:read",
    "mpim:write",        "pins:read",       "pins:write",       "reactions:read",
    "reactions:write",   "reminders:read",  "reminders:write",  "team:read",
    "usergroups:read",   "usergroups:write", "users.profile:read", "users:read",
    "users:read.email",  "users:write",     "connections:write", "incoming-webhook",
    "search:read",
};
_Static_assert(CHATI_ARRAY_LEN(scope_names) <= 64, "scopes must fit a uint64_t");

uint64_t chati_scope_bit(const char *name)
{
    for (size_t i = 0; name && i < CHATI_ARRAY_LEN(scope_names); i++)
        if (strcmp(scope_names[i], name) == 0)
            return UINT64_C(1) << i;
    return 0;
}

bool chati_scope_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ':' || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

chat_err chati_scopes_parse(const char *csv, bool strict, uint64_t *out)
{
    *out = 0;
    if (csv == NULL)
        return CHAT_OK;
    for (const char *p = csv; *p;) {
        size_t n = strcspn(p, ",");
        char name[64];
        if (n > 0) {
            if (n >= sizeof name && strict)
                return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "unknown scope %.40s", p);
            memcpy(name, p, n < sizeof name ? n : 0);
            name[n < sizeof name ? n : 0] = '\0';
            uint64_t bit = chati_scope_bit(name);
            if (bit == 0 && strict)
                return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "unknown scope %s", name);
            *out |= bit;
        }
        p += n + (p[n] == ',');
    }
    return CHAT_OK;
}
