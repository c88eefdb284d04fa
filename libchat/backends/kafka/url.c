/* Parses the Kafka broker's URL:
 *   kafka://HOST[:PORT][,HOST[:PORT]...][?KEY=VALUE&...]
 * keys: prefix (topic name prefix), partitions and replication (for topics we
 * create; default: the broker's), min_insync (min.insync.replicas of topics we
 * create, at most replication; default 2 when replication >= 3, so that with
 * acks=all an acknowledged event is on two brokers and one broker may die,
 * else the broker's default), timeout_ms (requests, default 10000),
 * message_timeout_ms (default 300000: how long an unacknowledged publish waits
 * for Kafka before its ack reports failure), session_timeout_ms (default
 * 6000: a consumer process that dies loses its partitions to the others this
 * long after its last heartbeat; 6000 is the smallest a broker accepts by
 * default, group.min.session.timeout.ms), heartbeat_interval_ms (default 500,
 * at most a third of the session timeout: how soon the others hear of a
 * rebalance), assignor (partition.assignment.strategy: range, roundrobin or
 * cooperative-sticky; default librdkafka's "range,roundrobin", the eager
 * protocol). cooperative-sticky moves only the partitions that change hands,
 * but librdkafka before 2.10 loses the whole assignment when a commit meets a
 * rebalance (issue #4059: a second rebalance, and messages handled again; seen
 * with Debian's 2.0.2 here), and before 2.4 may crash or hang closing such a
 * consumer (#4381, #4527). One group cannot mix the two protocols: switching
 * means stopping every instance of the service first. */
#include <stdlib.h>
#include <string.h>

#include "backends/kafka/kafka.h"

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_MESSAGE_TIMEOUT_MS 300000
#define DEFAULT_SESSION_TIMEOUT_MS 6000
#define DEFAULT_HEARTBEAT_MS 500

static const char *const assignors[] = {"range", "roundrobin", "cooperative-sticky"};

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']' || c == ',';
}

/* Each comma-separated entry: a non-empty host, then optionally :PORT (1-65535). */
static bool bootstrap_valid(const char *s)
{
    if (*s == '\0')
        return false;
    for (const char *p = s; *p; p++)
        if (!host_char(*p))
            return false;
    const char *e = s;
    while (*e) {
        const char *end = strchr(e, ',');
        size_t len = end ? (size_t)(end - e) : strlen(e);
        if (len == 0)
            return false;
        const char *colon = memrchr(e, ':', len);
        if (colon == e)
            return false;
        if (colon != NULL && e[0] != '[') {
            char *stop;
            long port = strtol(colon + 1, &stop, 10);
            if (stop != e + len || colon + 1 == stop || port < 1 || port > 65535)
                return false;
        }
        e += len + (end != NULL);
        if (end != NULL && *e == '\0')
            return false;
    }
    return true;
}

static chat_err int_opt(const char *key, const char *v, int min, int *out)
{
    char *stop;
    long x = strtol(v, &stop, 10);
    if (*v == '\0' || *stop != '\0' || x < min || x > 1000000000)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "kafka url: bad %s '%s'", key, v);
    *out = (int)x;
    return CHAT_OK;
}

static chat_err set_opt(chati_kafka_opts *o, const char *key, const char *v)
{
    if (strcmp(key, "prefix") == 0) {
        chat_free(o->prefix);
        o->prefix = chat_strdup(v);
        return o->prefix ? CHAT_OK : chati_fail(CHAT_ERR_NOMEM, "kafka url");
    }
    if (strcmp(key, "partitions") == 0)
        return int_opt(key, v, 1, &o->partitions);
    if (strcmp(key, "replication") == 0)
        return int_opt(key, v, 1, &o->replication);
    if (strcmp(key, "min_insync") == 0)
        return int_opt(key, v, 1, &o->min_insync);
    if (strcmp(key, "timeout_ms") == 0)
        return int_opt(key, v, 1, &o->timeout_ms);
    if (strcmp(key, "message_timeout_ms") == 0)
        return int_opt(key, v, 1, &o->message_timeout_ms);
    if (strcmp(key, "session_timeout_ms") == 0)
        return int_opt(key, v, 1, &o->session_timeout_ms);
    if (strcmp(key, "heartbeat_interval_ms") == 0)
        return int_opt(key, v, 1, &o->heartbeat_ms);
    if (strcmp(key, "assignor") == 0) {
        for (size_t i = 0; i < CHATI_ARRAY_LEN(assignors); i++)
            if (strcmp(v, assignors[i]) == 0) {
                o->assignor = assignors[i];
                return CHAT_OK;
            }
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                          "kafka url: bad assignor '%s' (range, roundrobin or "
                          "cooperative-sticky)",
                          v);
    }
    return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "kafka url: unknown option '%s'", key);
}

chat_err chati_kafka_opts_parse(const char *url, chati_kafka_opts *o)
{
    memset(o, 0, sizeof *o);
    o->partitions = -1;
    o->replication = -1;
    o->min_insync = -1;
    o->timeout_ms = DEFAULT_TIMEOUT_MS;
    o->message_timeout_ms = DEFAULT_MESSAGE_TIMEOUT_MS;
    o->session_timeout_ms = DEFAULT_SESSION_TIMEOUT_MS;
    o->heartbeat_ms = -1;
    if (url == NULL || strncmp(url, "kafka://", 8) != 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                          "kafka url must look like kafka://HOST:PORT[,...][?options], got '%s'",
                          url ? url : "(null)");
    char *copy = chat_strdup(url + 8);
    o->prefix = chat_strdup("");
    if (copy == NULL || o->prefix == NULL) {
        chat_free(copy);
        chati_kafka_opts_free(o);
        return chati_fail(CHAT_ERR_NOMEM, "kafka url");
    }
    chat_err rv = CHAT_OK;
    char *query = strchr(copy, '?');
    if (query != NULL)
        *query++ = '\0';
    size_t hl = strlen(copy);
    if (hl > 0 && copy[hl - 1] == '/')
        copy[hl - 1] = '\0';
    if (!bootstrap_valid(copy))
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                        "kafka url: bad broker list '%s' (want HOST[:PORT][,HOST[:PORT]...])",
                        copy);
    for (char *save = NULL, *kv = query ? strtok_r(query, "&", &save) : NULL;
         rv == CHAT_OK && kv != NULL; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq == NULL) {
            rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "kafka url: option '%s' has no value",
                            kv);
            break;
        }
        *eq = '\0';
        rv = set_opt(o, kv, eq + 1);
    }
    if (rv == CHAT_OK && o->heartbeat_ms < 0) {
        int third = o->session_timeout_ms / 3;
        o->heartbeat_ms = third < 1 ? 1 : third < DEFAULT_HEARTBEAT_MS ? third
                                                                       : DEFAULT_HEARTBEAT_MS;
    }
    /* librdkafka takes a heartbeat as slow as the session without complaint;
     * the session would then lapse between two heartbeats. */
    if (rv == CHAT_OK && o->heartbeat_ms >= o->session_timeout_ms)
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                        "kafka url: heartbeat_interval_ms (%d) must be below "
                        "session_timeout_ms (%d)",
                        o->heartbeat_ms, o->session_timeout_ms);
    if (rv == CHAT_OK && o->min_insync > 0 && o->replication > 0 &&
        o->min_insync > o->replication)
        rv = chati_fail(CHAT_ERR_INVALID_ARGUMENTS,
                        "kafka url: min_insync (%d) is above replication (%d): no write "
                        "could be acknowledged",
                        o->min_insync, o->replication);
    if (rv == CHAT_OK && o->min_insync < 0 && o->replication >= 3)
        o->min_insync = 2;
    if (rv == CHAT_OK) {
        o->bootstrap = copy;
        return CHAT_OK;
    }
    chat_free(copy);
    chati_kafka_opts_free(o);
    return rv;
}

void chati_kafka_opts_free(chati_kafka_opts *o)
{
    chat_free(o->bootstrap);
    chat_free(o->prefix);
    o->bootstrap = o->prefix = NULL;
}
