/*
 * libchat/gateway/pbjson_internal.h - what the argument side (pbjson.c) and
 * the output side (pbjson_out.c) of the converter share. Internal.
 */
#ifndef CHAT_GW_PBJSON_INTERNAL_H
#define CHAT_GW_PBJSON_INTERNAL_H

#include <protobuf-c/protobuf-c.h>

/* Shortest "%.*g" text that reads back as the same double (float). */
int gw_fmt_double(double v, char buf[40]);
int gw_fmt_float(float v, char buf[40]);
/* Bytes one element of a repeated field of type t takes. */
size_t gw_pb_elem_size(ProtobufCType t);
/* A GW_JSON_TYPE message's "raw" member (NULL when d is another type). */
char **gw_pb_json_raw(const ProtobufCMessageDescriptor *d, ProtobufCMessage *m);

#endif
