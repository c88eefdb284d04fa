/*
 * libchat/api/convert.h - libchat entities to their API (Slack-shaped)
 * protobuf messages. Every result is heap-allocated with chat_malloc and freed
 * with the message that holds it (protobuf_c_message_free_unpacked).
 */
#ifndef CHATI_API_CONVERT_H
#define CHATI_API_CONVERT_H

#include "api.pb-c.h"
#include "api_types.pb-c.h"
#include "core/internal.h"

/* Sets a string field to a copy of v; NULL or "" leave the field's default. */
chat_err chati_pb_str(char **field, const char *v);
/* The text a Json argument holds: NULL when it was not given, "" when empty. */
const char *chati_pb_json(const Chat__Api__Json *j);
/* *out = a Json holding text, or left NULL when text is unset. */
chat_err chati_pb_set_json(Chat__Api__Json **out, const char *text);
/* Copies n strings into a repeated string field. */
chat_err chati_pb_strs(char ***field, size_t *n_field, const char *const *v, size_t n);

/* base: the public URL avatars are served from (profile.image_*), or NULL
 * for none. */
Chat__Api__User *chati_api_user(const chat_user *u, const char *base);
Chat__Api__Profile *chati_api_profile(const chat_user *u, const char *base);
/* self: the caller, to name the other person of an IM. */
Chat__Api__Channel *chati_api_channel(const chat_channel *c, const char *self);
Chat__Api__Message *chati_api_message(const chat_message *m, bool with_channel);
Chat__Api__Team *chati_api_team(const chat_team *t);
/* A list of messages into a repeated field. */
chat_err chati_api_messages(const chat_list *l, Chat__Api__Message ***out, size_t *n);
chat_err chati_api_channels(const chat_list *l, const char *self, Chat__Api__Channel ***out,
                            size_t *n);
/* response_metadata with the list's next cursor ("" on the last page). */
Chat__Api__ResponseMetadata *chati_api_metadata(const chat_list *l);

/* Slack's conversation "types" argument ("public_channel,private_channel,mpim,im")
 * to CHAT_CHANNEL_* bits; "" gives def. invalid_arguments on unknown names. */
chat_err chati_api_types(const char *types, unsigned def, unsigned *out);

/* Entities across the wire between services, in chat.Event envelopes (the
 * event codec already carries every field). out->data is chat_malloc'ed. */
chat_err chati_channel_pack(const chat_channel *c, ProtobufCBinaryData *out);
chat_err chati_channel_unpack(const ProtobufCBinaryData *in, chat_channel **out);
chat_err chati_user_pack(const chat_user *u, ProtobufCBinaryData *out);
chat_err chati_user_unpack(const ProtobufCBinaryData *in, chat_user **out);

#endif
