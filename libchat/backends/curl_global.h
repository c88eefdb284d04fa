/*
 * libchat/backends/curl_global.h - libcurl's process-wide set-up, shared by
 * the backends that speak HTTP (S3, etcd).
 */
#ifndef CHATI_BACKENDS_CURL_GLOBAL_H
#define CHATI_BACKENDS_CURL_GLOBAL_H

#include "core/internal.h"

/* Runs curl_global_init once per process (it is not thread-safe on every
 * build); later calls return its result. Thread-safe. */
chat_err chati_curl_global_init(void);

#endif
