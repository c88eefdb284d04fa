/*
 * chat_open: the library's edge, where the layers are wired together. The
 * built-in backends are registered, the domain opens the backends the
 * configuration names and reaches the services it does not run through the
 * RPC peer tables of the API layer; no layer knows another's implementation.
 */
#include "api/peers_rpc.h"
#include "backends/builtin.h"
#include "domain/ctx.h"

chat_err chat_open(chat_ctx **out, const chat_config *cfg, char *errbuf, size_t errlen)
{
    /* Before any lookup: an application's own tables, registered earlier,
     * stay in place. */
    chati_backends_register_builtin();
    return chati_ctx_open(out, cfg, &chati_rpc_peers, errbuf, errlen);
}
