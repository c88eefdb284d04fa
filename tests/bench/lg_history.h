/* tests/bench/lg_history.h - chat_loadgen --history: `posts` messages are
 * posted into the channel by `threads` senders, then the same number of
 * closed-loop readers ask conversations.history for pages of 50, the latest
 * and (in turn) the 50 before the middle message, for `duration` seconds.
 * Prints fill rate, pages/s and latency quantiles of each kind and a RESULT
 * line; returns the exit status (1 when a post or a page went wrong). */
#ifndef LG_HISTORY_H
#define LG_HISTORY_H

int lg_history_run(const char *url, const char *token, const char *channel, int posts,
                   int threads, double duration);

#endif
