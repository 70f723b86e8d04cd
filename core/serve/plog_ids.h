/*
 * serve/plog_ids.h - the request ids a prediction log wrote, remembered
 * (the last 2^21 by default) so a label posted for one of them is
 * matched without a lookup in the store.
 *
 * Ids are kept as 64-bit hashes of (model, request id): the writer only
 * appends them to a ring (a store, no lookup: a hash insert per
 * prediction cost the writer a cache miss each); a lookup first indexes
 * what was appended since the last one, in two generations of half the
 * ring's positions each, the older dropped as the ring overwrites it.
 * A collision (odds ~1e-13 at 2^21 ids) would answer 200 where 202 was
 * due, the label being kept either way.
 *
 * Thread-safe: appends and lookups take the set's lock.
 */
#ifndef ORRI_SERVE_PLOG_IDS_H
#define ORRI_SERVE_PLOG_IDS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct orri_idgen {
    uint64_t *slot;             /* 0: empty                               */
    size_t    cap, n;
};

struct orri_plog_ids {
    pthread_mutex_t  lock;
    uint64_t        *ring;      /* key of written record seq at seq % cap */
    size_t           cap;       /* grows to `max` before wrapping         */
    size_t           max;       /* a power of two >= 2                    */
    uint64_t         seq;       /* keys appended                          */
    uint64_t         indexed;   /* keys indexed into gen                  */
    uint64_t         gen_no;    /* segment (seq / (max / 2)) of gen[0]    */
    struct orri_idgen gen[2];   /* [0] segment gen_no, [1] the one before */
};

/* The key of request `id` of `model` (NULL: ""); never 0. */
uint64_t orri_plog_id_key(const char *model, const char *id);

/* Remember the last `max` keys (a power of two >= 2). */
void orri_plog_ids_init(struct orri_plog_ids *s, size_t max);
void orri_plog_ids_free(struct orri_plog_ids *s);
/* Append `n` keys; on no memory they are just not remembered. */
void orri_plog_ids_add(struct orri_plog_ids *s, const uint64_t *keys,
                       size_t n);
/* 1 when the key of (model, id) is among the remembered. */
int  orri_plog_ids_has(struct orri_plog_ids *s, const char *model,
                       const char *id);

#endif
