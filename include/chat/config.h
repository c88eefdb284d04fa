/*
 * chat/config.h - configuration for chat_open().
 *
 * A chat_config is a set of string keys and values. The same keys come from a
 * config file ("key = value" lines), the environment (CHAT_ + key upper-cased
 * with '.' as '_': store.message -> CHAT_STORE_MESSAGE) and command-line flags.
 *
 * Keys (defaults in brackets; {data} is data_dir):
 *   data_dir            directory for the embedded backends [./chat-data]
 *   store.auth          auth store URL        [sqlite:{data}/auth.db]
 *   store.user          user store URL        [sqlite:{data}/user.db]
 *   store.channel       channel store URL     [sqlite:{data}/channel.db]
 *   store.message       message store URL     [sqlite:{data}/message.db]
 *   sqlite.locking      shared or exclusive [shared; chatd: exclusive]: an
 *                       exclusive process keeps its SQLite stores' file locks
 *                       (no other process may open them meanwhile; about a
 *                       tenth less CPU per durable send). The sqlite: broker
 *                       is always shared.
 *   broker              event broker URL      [inproc:]; sqlite:/path/events.db
 *                       shares events between the processes of one machine
 *   blob                blob store URL        [file:{data}/blobs]
 *   presence            presence store URL    [mem:]
 *   discovery           discovery URL         [static:]; static:/path/to/file ("service
 *                       address" lines, re-read on change), or
 *                       etcd://host:port[,host:port...][/prefix][?timeout_ms=]
 *   rpc.<service>       RPC address(es) of a service run elsewhere, comma-separated
 *                       (rpc.auth, rpc.user, rpc.channel, rpc.message, rpc.presence);
 *                       tcp://host:port, or tls+tcp://host:port for mutual TLS
 *   rpc.tls_ca, rpc.tls_cert, rpc.tls_key   PEM files for tls+tcp:// (the
 *                       deployment's CA, this process's certificate and key;
 *                       scripts/rpc-certs.sh makes them)
 *   server.rpc_threads  threads running methods in a service (chat/server.h)
 *                       [min(64, max(8, 4 x CPUs))]
 *   server.drain_ms     how long a stopping service lets requests finish [10000]
 *   server.announce_ttl seconds a service's registration in discovery lives (2..3600);
 *                       renewed every third of it [5]
 *   gateway.public_url  the URL clients reach the gateway at (permalinks, uploads)
 *   gateway.app_retry_ms  Events API: how long an event an app's URL did not take
 *                       waits before it is sent again (three retries) [60000]
 *   jwt.secret          HS256 key, and the key RPC frames between processes are signed
 *                       with (the same on every process); generated and kept in
 *                       {data}/jwt.key when unset (one process only)
 *   jwt.issuer          iss claim [libchat]
 *   jwt.ttl             token lifetime in seconds [2592000]
 *   files.max_bytes     largest upload [104857600]
 *   presence.ttl        seconds a heartbeat keeps a user active [120]
 *   team.name           workspace created on first start [My Workspace]
 *   argon2.t_cost, argon2.m_cost_kib, argon2.parallelism   OWASP defaults [2, 19456, 1]
 *
 * Thread safety: a chat_config is not synchronised; build it on one thread.
 * chat_open() copies it, so it can be freed right after.
 */
#ifndef CHAT_CONFIG_H
#define CHAT_CONFIG_H

#include <chat/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Creates an empty configuration. Free with chat_config_free(). */
CHAT_API chat_err chat_config_new(chat_config **out);
CHAT_API void chat_config_free(chat_config *cfg);

/* Sets key to a copy of value (NULL removes it). Unknown keys are refused with
 * CHAT_ERR_INVALID_CONFIG and a sentence in errbuf (which may be NULL). */
CHAT_API chat_err chat_config_set(chat_config *cfg, const char *key, const char *value,
                                  char *errbuf, size_t errlen);

/* The value of key, or NULL when unset. Owned by cfg until it changes. */
CHAT_API const char *chat_config_get(const chat_config *cfg, const char *key);

/* Reads "key = value" lines ('#' starts a comment) from a file. */
CHAT_API chat_err chat_config_load_file(chat_config *cfg, const char *path, char *errbuf,
                                        size_t errlen);

/* Sets every known key found in the environment as CHAT_<KEY>. */
CHAT_API chat_err chat_config_load_env(chat_config *cfg, char *errbuf, size_t errlen);

/* Deep copy. Free with chat_config_free(). */
CHAT_API chat_err chat_config_dup(const chat_config *cfg, chat_config **out);

#ifdef __cplusplus
}
#endif
#endif
