/*
 * libchat/backends/broker_check.h - the argument check every broker's publish
 * makes before it takes anything.
 */
#ifndef CHATI_BROKER_CHECK_H
#define CHATI_BROKER_CHECK_H

#include <chat/backend/broker.h>

#include "core/internal.h"

/* invalid_arguments (detail prefixed by who) unless every message has a topic,
 * data for its length, and a length of at most max_len. */
static inline chat_err chati_broker_check_msgs(const chat_broker_msg *msgs, size_t n,
                                               const char *who, size_t max_len)
{
    if (msgs == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "%s: no messages", who);
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].topic == NULL || msgs[i].topic[0] == '\0')
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "%s: empty topic", who);
        if (msgs[i].data == NULL && msgs[i].len > 0)
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "%s: no data", who);
        if (msgs[i].len > max_len)
            return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "%s: message too large", who);
    }
    return CHAT_OK;
}

#endif
