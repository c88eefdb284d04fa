/*
 * servers/common/gateway_setup.h - what chatd and chat-gateway share about
 * starting the gateway: its flags and its configuration keys.
 */
#ifndef CHAT_GATEWAY_SETUP_H
#define CHAT_GATEWAY_SETUP_H

#include <chat/gateway.h>

#include "server_main.h"

/* --listen, --public-url, --tls-cert, --tls-key, --web-root; NULL-terminated. */
extern const srv_flag gw_setup_flags[];

/* Fills gc from cfg (server.listen, gateway.public_url, server.tls_*,
 * server.web_root, ratelimit.*), defaulting gateway.public_url to the listen
 * address in cfg too, so that services build URLs the same way. Strings point
 * into cfg. */
void gw_setup_config(chat_config *cfg, chat_gateway_config *gc);

#endif
