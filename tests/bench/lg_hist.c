#include "lg_hist.h"

#include <math.h>

static size_t bucket_of(uint64_t v)
{
    if (v >= (UINT64_C(1) << LG_HIST_MAX_BITS))
        v = (UINT64_C(1) << LG_HIST_MAX_BITS) - 1;
    if (v < 2 * LG_HIST_HALF)
        return (size_t)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - 6;               /* keeps the top 7 bits: [64, 128) */
    uint64_t top = v >> shift;
    return (size_t)(shift + 1) * LG_HIST_HALF + (size_t)(top - LG_HIST_HALF);
}

static uint64_t bucket_mid(size_t i)
{
    if (i < 2 * LG_HIST_HALF)
        return i;
    size_t g = i / LG_HIST_HALF;
    uint64_t top = LG_HIST_HALF + i % LG_HIST_HALF;
    int shift = (int)g - 1;
    return (top << shift) + ((UINT64_C(1) << shift) >> 1);
}

void lg_hist_record(lg_hist *h, uint64_t v)
{
    h->counts[bucket_of(v)]++;
    h->total++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
}

void lg_hist_merge(lg_hist_sum *into, const lg_hist *h)
{
    for (size_t i = 0; i < LG_HIST_BUCKETS; i++)
        into->counts[i] += h->counts[i];
    into->total += h->total;
    into->sum += h->sum;
    if (h->max > into->max)
        into->max = h->max;
}

void lg_hist_merge_sum(lg_hist_sum *into, const lg_hist_sum *h)
{
    for (size_t i = 0; i < LG_HIST_BUCKETS; i++)
        into->counts[i] += h->counts[i];
    into->total += h->total;
    into->sum += h->sum;
    if (h->max > into->max)
        into->max = h->max;
}

uint64_t lg_hist_quantile(const lg_hist_sum *h, double q)
{
    if (h->total == 0)
        return 0;
    if (q >= 1.0)
        return h->max;
    uint64_t rank = (uint64_t)ceil(q * (double)h->total);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = bucket_mid(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}
