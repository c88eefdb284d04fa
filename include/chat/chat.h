/*
 * chat/chat.h - libchat, an embeddable team-messaging library.
 *
 * Include this one header. Start with chat/config.h and chat/ctx.h, then the
 * domain headers. Threading: docs/threading.md. Backend authors also include
 * the headers in chat/backend/.
 */
#ifndef CHAT_CHAT_H
#define CHAT_CHAT_H

#include <chat/export.h>
#include <chat/error.h>
#include <chat/types.h>
#include <chat/config.h>
#include <chat/ctx.h>
#include <chat/auth.h>
#include <chat/user.h>
#include <chat/channel.h>
#include <chat/message.h>
#include <chat/presence.h>
#include <chat/file.h>
#include <chat/event.h>
#include <chat/app.h>

#endif
