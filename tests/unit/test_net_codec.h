/*
 * tests/unit/test_net_codec.h - what the two halves of the unit_net_codec
 * suite share (test_http_parse.c holds main and the generator).
 */
#ifndef CHAT_TEST_NET_CODEC_H
#define CHAT_TEST_NET_CODEC_H

#include <check.h>
#include <stdint.h>

/* Adds test_ws_codec.c's cases to the suite. */
void net_codec_add_ws_cases(Suite *s);

/* A seeded pseudo-random number (xorshift64), the same sequence every run. */
uint32_t net_codec_rand(void);

#endif
