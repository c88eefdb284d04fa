/*
 * Which RPC addresses use TLS. The mutual-TLS configuration and sessions
 * are in tls_session.c.
 */
#include <string.h>

#include "rpc/rpc.h"

bool chati_rpc_url_is_tls(const char *url)
{
    return url != NULL && strncmp(url, "tls+", 4) == 0;
}
