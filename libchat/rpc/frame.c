/* Frames: a protobuf head and a body packed straight into one nng message;
 * and address lists for the client. */
#include <string.h>

#include <nng/nng.h>

#include "rpc/rpc.h"

/* Packs head followed by field `body_field` holding body (may be NULL) into a
 * new nng message: the body is packed straight into the message, not into a
 * bytes field first. Legal protobuf: fields may come in any order. */
int chati_rpc_frame(const ProtobufCMessage *head, unsigned body_field,
                    const ProtobufCMessage *body, struct nng_msg **out)
{
    size_t hn = protobuf_c_message_get_packed_size(head);
    size_t bn = body ? protobuf_c_message_get_packed_size(body) : 0;
    uint8_t tag[12];
    size_t tn = 0;
    if (bn > 0) {
        tag[tn++] = (uint8_t)(body_field << 3 | 2);   /* length-delimited */
        for (uint64_t v = bn;; v >>= 7) {
            if (v < 0x80) {
                tag[tn++] = (uint8_t)v;
                break;
            }
            tag[tn++] = (uint8_t)(v | 0x80);
        }
    }
    nng_msg *msg;
    int rv = nng_msg_alloc(&msg, hn + tn + bn);
    if (rv != 0)
        return rv;
    uint8_t *p = nng_msg_body(msg);
    protobuf_c_message_pack(head, p);
    if (bn > 0) {
        memcpy(p + hn, tag, tn);
        protobuf_c_message_pack(body, p + hn + tn);
    }
    *out = msg;
    return 0;
}

chat_err chati_rpc_addrs_add(chati_rpc_addrs *a, const char *s, size_t len)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0)
        return CHAT_OK;
    char **v = chat_realloc(a->v, (a->n + 1) * sizeof *v);
    if (v == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "addresses");
    a->v = v;
    if ((v[a->n] = chat_strndup(s, len)) == NULL)
        return chati_fail(CHAT_ERR_NOMEM, "addresses");
    a->n++;
    return CHAT_OK;
}

chat_err chati_rpc_addrs_add_list(chati_rpc_addrs *a, const char *list)
{
    chat_err rv = CHAT_OK;
    for (const char *p = list; p && rv == CHAT_OK;) {
        const char *comma = strchr(p, ',');
        rv = chati_rpc_addrs_add(a, p, comma ? (size_t)(comma - p) : strlen(p));
        p = comma ? comma + 1 : NULL;
    }
    return rv;
}

void chati_rpc_addrs_free(chati_rpc_addrs *a)
{
    for (size_t i = 0; i < a->n; i++)
        chat_free(a->v[i]);
    chat_free(a->v);
    a->v = NULL;
    a->n = 0;
}
