/*
 * raft_rand.h -- xoshiro256** seeded through splitmix64.
 *
 * The core must be reproducible from its seed (the simulator replays a
 * failing seed byte for byte), so it never touches rand() or any global
 * generator: each raft instance, and each simulator world, owns one of these.
 */
#ifndef RAFT_RAND_H
#define RAFT_RAND_H

#include <stdint.h>

typedef struct raft_rng {
    uint64_t s[4];
} raft_rng;

static inline uint64_t
raft_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline void
raft_rng_seed(raft_rng *g, uint64_t seed)
{
    /* splitmix64 never yields four zero words, which would be xoshiro's one
     * forbidden state. */
    for (int i = 0; i < 4; i++)
        g->s[i] = raft_splitmix64(&seed);
}

static inline uint64_t
raft_rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t
raft_rng_next(raft_rng *g)
{
    uint64_t *s = g->s;
    uint64_t result = raft_rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = raft_rotl64(s[3], 45);
    return result;
}

/* Uniform in [0, n) without modulo bias (rejection of the short tail);
 * n == 0 yields 0. */
static inline uint64_t
raft_rng_below(raft_rng *g, uint64_t n)
{
    if (n == 0)
        return 0;
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t x;
    do {
        x = raft_rng_next(g);
    } while (x >= limit);
    return x % n;
}

#endif
