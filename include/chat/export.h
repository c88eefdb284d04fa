/*
 * chat/export.h - symbol visibility for the libchat C API.
 *
 * libchat is built with hidden visibility; only declarations marked CHAT_API are
 * exported from the shared library. Define CHAT_STATIC when linking chat_static.
 */
#ifndef CHAT_EXPORT_H
#define CHAT_EXPORT_H

#if defined(_WIN32)
#  if defined(CHAT_BUILDING) && !defined(CHAT_STATIC)
#    define CHAT_API __declspec(dllexport)
#  elif !defined(CHAT_STATIC)
#    define CHAT_API __declspec(dllimport)
#  else
#    define CHAT_API
#  endif
#elif defined(__GNUC__)
#  define CHAT_API __attribute__((visibility("default")))
#else
#  define CHAT_API
#endif

#if defined(__GNUC__)
#  define CHAT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#  define CHAT_PRINTF(fmt, args)
#endif

#if defined(__GNUC__)
#  define CHAT_DEPRECATED(why) __attribute__((deprecated(why)))
#else
#  define CHAT_DEPRECATED(why)
#endif

#endif
