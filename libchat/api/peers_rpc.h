/*
 * libchat/api/peers_rpc.h - the peer tables of domain/peers.h over RPC: a
 * context that does not run a service reaches it through these (the RPC
 * client is made on first use and freed with the context).
 */
#ifndef CHATI_API_PEERS_RPC_H
#define CHATI_API_PEERS_RPC_H

#include "domain/peers.h"

extern const chati_peers chati_rpc_peers;

#endif
