/* A log-bucket latency histogram in the style of HdrHistogram: every power of
 * two is split into 64 linear sub-buckets, so any recorded value is known to
 * within 1/64 (1.6%) and millions of samples cost a fixed 2,304 counters
 * instead of a sort. Values are nanoseconds, capped at 2^40 (about 18 min). */
#ifndef LG_HIST_H
#define LG_HIST_H

#include <stddef.h>
#include <stdint.h>

#define LG_HIST_HALF 64
#define LG_HIST_MAX_BITS 40
#define LG_HIST_BUCKETS ((LG_HIST_MAX_BITS - 6) * LG_HIST_HALF + 2 * LG_HIST_HALF)

/* One owner records into it (no locking); lg_hist_merge sums them afterwards. */
typedef struct lg_hist {
    uint32_t counts[LG_HIST_BUCKETS];
    uint64_t total;
    uint64_t max;
    uint64_t sum;
} lg_hist;

/* The merged form, with counters wide enough for any run. */
typedef struct lg_hist_sum {
    uint64_t counts[LG_HIST_BUCKETS];
    uint64_t total;
    uint64_t max;
    uint64_t sum;
} lg_hist_sum;

void lg_hist_record(lg_hist *h, uint64_t v);
void lg_hist_merge(lg_hist_sum *into, const lg_hist *h);
void lg_hist_merge_sum(lg_hist_sum *into, const lg_hist_sum *h);
/* The value at quantile q (0..1): the middle of the bucket holding it, or the
 * exact maximum for q >= 1. 0 when empty. */
uint64_t lg_hist_quantile(const lg_hist_sum *h, double q);

#endif
