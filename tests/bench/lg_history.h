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

/* The same readers against a channel bench_history_fill built (data_file:
 * its history.json): logs in as its user, reads for `duration` seconds, then
 * times the channel's other reads (conversations.info, conversations.replies,
 * search.messages for a rare word and for one message's words) one after another. */
int lg_history_prebuilt(const char *url, const char *data_file, int threads, double duration);

#endif
