/*
 * serve/plog_lane.c - a lane of the prediction log: the serving thread's
 * append, lock-free, and the writer's view of a payload.
 */
#include "serve/plog_lane.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <orrery/table.h>

#include "meta/psegment.h"
#include "serve/plog_ids.h"

#define HUGE ((size_t)2 << 20)
/* Copies from this size go by non-temporal stores (see copy). */
#define NT_MIN 1024

/* `size` bytes of anonymous memory aligned to a huge page and advised
 * onto huge pages where the system allows; MAP_FAILED on failure. */
static void *map_huge(size_t size)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t page = pg > 0 ? (size_t)pg : 4096;
    if (size > SIZE_MAX - 2 * HUGE - page)
        return MAP_FAILED;
    /* Whole pages: the tail is unmapped from a page boundary (the slots
     * are not a multiple of a page; munmap refused the unaligned tail,
     * which stayed mapped for good). */
    size_t span = (size + page - 1) / page * page;
    void *m = mmap(NULL, span + HUGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return m;
    uintptr_t a = ((uintptr_t)m + HUGE - 1) & ~(uintptr_t)(HUGE - 1);
    size_t head = a - (uintptr_t)m;
    if (head)
        munmap(m, head);
    munmap((char *)a + span, HUGE - head);
#ifdef MADV_HUGEPAGE
    (void)madvise((void *)a, size, MADV_HUGEPAGE);
#endif
    return (void *)a;
}

struct orri_plog_lane *orri_plog_lane_new(size_t ring_size, size_t n_slots)
{
    size_t bytes = (sizeof(struct orri_plog_lane) + 63) / 64 * 64;
    struct orri_plog_lane *ln = aligned_alloc(64, bytes);
    if (!ln)
        return NULL;
    memset(ln, 0, bytes);
    ring_size = (ring_size + ORRI_PSEG_ALIGN - 1) / ORRI_PSEG_ALIGN *
                ORRI_PSEG_ALIGN;
    /* Mapped, not allocated: aligned for O_DIRECT, and its pages are
     * only backed as the stream first reaches them.  On huge pages where
     * the system allows (aligned to one, MADV_HUGEPAGE): with 4 KiB pages
     * the copies into a 16 MiB ring missed the TLB every page, and the
     * writer's O_DIRECT pinned page by page; bench_window_logcost, 64-row
     * records: 7.0-7.4 against 5.1-5.5 us of CPU each (session 5). */
    void *ring = map_huge(ring_size);
    /* Mapped too, so that orri_plog_lane_populate can back them, and on
     * huge pages like the ring: 32,768 slots span 1,900 small pages, and
     * the first store into a slot was the append's slowest instruction
     * (perf). */
    void *slots = MAP_FAILED;
    if (n_slots <= SIZE_MAX / sizeof *ln->slots)
        slots = map_huge(n_slots * sizeof *ln->slots);
    if (ring == MAP_FAILED || slots == MAP_FAILED) {
        if (ring != MAP_FAILED)
            munmap(ring, ring_size);
        if (slots != MAP_FAILED)
            munmap(slots, n_slots * sizeof *ln->slots);
        free(ln);
        return NULL;
    }
    ln->slots = slots;
    ln->ring = ring;
    ln->ring_size = ring_size;
    ln->n_slots = n_slots;
    return ln;
}

void orri_plog_lane_free(struct orri_plog_lane *ln)
{
    if (!ln)
        return;
    uint64_t t = atomic_load(&ln->slot_tail);
    uint64_t h = atomic_load(&ln->slot_head);
    for (; t < h; t++)
        free(ln->slots[t % ln->n_slots].heap);
    munmap(ln->ring, ln->ring_size);
    munmap(ln->slots, ln->n_slots * sizeof *ln->slots);
    free(ln);
}

void orri_plog_lane_populate(struct orri_plog_lane *ln)
{
#ifdef MADV_POPULATE_WRITE
    (void)madvise(ln->ring, ln->ring_size, MADV_POPULATE_WRITE);
    (void)madvise(ln->slots, ln->n_slots * sizeof *ln->slots,
                  MADV_POPULATE_WRITE);
#endif
    ln->populated = 1;
}

/* Copy `len` bytes into the ring; 1 when some went by non-temporal
 * stores, which the caller orders with an sfence before publishing.  A
 * ring is far larger than the cache, so ordinary stores each read their
 * line first and evict the serving thread's own data (the model, the
 * request) for bytes only the kernel reads again: streaming stores cost
 * a 64-row record 4.0-4.1 us of serving-thread CPU against 4.9-5.0
 * (bench_window_logcost, session 6).  Small records stay in cache. */
static int copy(unsigned char *dst, const unsigned char *src, size_t len)
{
#ifdef __SSE2__
    if (len >= NT_MIN) {
        size_t head = (16 - ((uintptr_t)dst & 15)) & 15;
        memcpy(dst, src, head);
        dst += head;
        src += head;
        len -= head;
        for (; len >= 64; dst += 64, src += 64, len -= 64) {
            __m128i a = _mm_loadu_si128((const __m128i *)src);
            __m128i b = _mm_loadu_si128((const __m128i *)(src + 16));
            __m128i c = _mm_loadu_si128((const __m128i *)(src + 32));
            __m128i d = _mm_loadu_si128((const __m128i *)(src + 48));
            _mm_stream_si128((__m128i *)dst, a);
            _mm_stream_si128((__m128i *)(dst + 16), b);
            _mm_stream_si128((__m128i *)(dst + 32), c);
            _mm_stream_si128((__m128i *)(dst + 48), d);
        }
        memcpy(dst, src, len);
        return 1;
    }
#endif
    memcpy(dst, src, len);
    return 0;
}

/* Copy `len` bytes to stream position `pos`; 1 when streamed (copy). */
static int put(struct orri_plog_lane *ln, uint64_t pos, const void *src,
               size_t len)
{
    size_t at = (size_t)(pos % ln->ring_size);
    size_t first = ln->ring_size - at < len ? ln->ring_size - at : len;
    int nt = copy(ln->ring + at, src, first);
    if (first < len)
        nt |= copy(ln->ring, (const unsigned char *)src + first,
                   len - first);
    return nt;
}

/* Room for a record of `bytes` and a slot, by the producer's view of
 * the tails, refreshed when that view says no. */
static int room(struct orri_plog_lane *ln, uint64_t sh, size_t bytes)
{
    if (sh - ln->seen_slot_tail >= ln->n_slots ||
        ln->pos_head + bytes - ln->seen_pos_tail > ln->ring_size) {
        ln->seen_slot_tail = atomic_load_explicit(&ln->slot_tail,
                                                  memory_order_acquire);
        ln->seen_pos_tail = atomic_load_explicit(&ln->pos_tail,
                                                 memory_order_acquire);
    }
    return sh - ln->seen_slot_tail < ln->n_slots &&
           ln->pos_head + bytes - ln->seen_pos_tail <= ln->ring_size;
}

/* Ask for the lines the next record will write, for writing: the next
 * slot and, unless this record streamed, as many ring bytes as this one
 * took.  They are far from this core by now (the ring and the slots are
 * larger than its cache, and the writer read the slot last), and without
 * this the record's stores waited for them in the request's time; now
 * they arrive while the thread serves the next request.  prefetchw is a
 * no-op on x86 processors that lack it. */
static inline void prefetch_w(const void *p)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
    __builtin_prefetch(p, 1, 3);
#endif
}

static void prefetch_next(const struct orri_plog_lane *ln, size_t bytes,
                          int streamed)
{
    const char *s = (const char *)&ln->slots[ln->slot_at];
    for (size_t o = 0; o < sizeof *ln->slots; o += 64)
        prefetch_w(s + o);
    prefetch_w(s + sizeof *ln->slots - 1);
    if (streamed || bytes > 512)
        return;
    size_t at = (size_t)(ln->pos_head % ln->ring_size);
    for (size_t o = 0; o < bytes + 63; o += 64, at += 64)
        prefetch_w(ln->ring + (at < ln->ring_size ? at : at - ln->ring_size));
}

static void count_drop(struct orri_plog_lane *ln)
{
    atomic_store_explicit(&ln->dropped,
                          atomic_load_explicit(&ln->dropped,
                                               memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

enum orri_plog_append orri_plog_lane_append(struct orri_plog_lane *ln,
                                            const struct orr_prediction *p,
                                            int *half)
{
    *half = 0;
    const struct orr_matrix *x = p->inputs, *y = p->outputs;
    size_t nin = x->rows * x->cols, nout = y ? y->rows * y->cols : 0;
    uint64_t sh = atomic_load_explicit(&ln->slot_head, memory_order_relaxed);
    if (nin > ln->ring_size / 16 || nout > ln->ring_size / 16 ||
        (nin + nout) * sizeof(double) > ln->ring_size / 2 ||
        x->rows > UINT32_MAX || x->cols > UINT32_MAX ||
        (y && (y->rows > UINT32_MAX || y->cols > UINT32_MAX))) {
        count_drop(ln);
        return ORRI_PLOG_TOO_BIG;
    }
    size_t bytes = (nin + nout) * sizeof(double);
    if (!room(ln, sh, bytes)) {
        count_drop(ln);
        return ORRI_PLOG_FULL;
    }
    struct orri_plog_slot *s = &ln->slots[ln->slot_at];
    const char *id = p->request_id, *model = p->model ? p->model : "";
    const char *version = p->version ? p->version : "";
    size_t li = strlen(id), lm = strlen(model), lv = strlen(version);
    char *str = s->str;
    s->heap = NULL;
    if (li + lm + lv + 3 > sizeof s->str) {
        if (li + lm + lv + 3 > UINT32_MAX ||
            !(str = s->heap = malloc(li + lm + lv + 3))) {
            count_drop(ln);
            return ORRI_PLOG_NOMEM;
        }
    }
    memcpy(str, id, li + 1);
    memcpy(str + li + 1, model, lm + 1);
    memcpy(str + li + lm + 2, version, lv + 1);
    s->model_at = (uint32_t)(li + 1);
    s->version_at = (uint32_t)(li + lm + 2);
    s->pos = ln->pos_head;
    s->bytes = (uint32_t)bytes;
    s->in_rows = (uint32_t)x->rows;
    s->in_cols = (uint32_t)x->cols;
    s->out_rows = y ? (uint32_t)y->rows : 0;
    s->out_cols = y ? (uint32_t)y->cols : 0;
    s->ts_ms = p->ts_ms;
    s->latency_us = p->latency_us;
    s->key = orri_plog_id_key(model, id);
    /* The checksum is taken here, from the request's values while they
     * are still in this core's cache, so the writer never reads the
     * payload (it goes to the file by DMA); then the copy, whose reads
     * hit L1. */
    struct orri_pseg_rhash h;
    orri_pseg_rhash_init(&h);
    orri_pseg_rhash_update(&h, x->data, nin * sizeof(double));
    if (nout)
        orri_pseg_rhash_update(&h, y->data, nout * sizeof(double));
    s->check = orri_pseg_rhash_final(&h);
    int nt = put(ln, ln->pos_head, x->data, nin * sizeof(double));
    if (nout)
        nt |= put(ln, ln->pos_head + nin * sizeof(double), y->data,
                  nout * sizeof(double));
    ln->pos_head += bytes;
#ifdef __SSE2__
    /* Streaming stores are not ordered by the release below. */
    if (nt)
        _mm_sfence();
#else
    (void)nt;
#endif
    atomic_store_explicit(&ln->slot_head, sh + 1, memory_order_release);
    if (++ln->slot_at == ln->n_slots)
        ln->slot_at = 0;
    /* Counted after it is published: a flush waiting for the count
     * finds the record (plog.c reads it with acquire). */
    atomic_store_explicit(&ln->queued,
                          atomic_load_explicit(&ln->queued,
                                               memory_order_relaxed) + 1,
                          memory_order_release);
    /* Half full?  Looked at every sixteenth of the lane's slots or of its
     * ring, whichever comes first: the tails live on the writer's cache
     * line. */
    if (sh + 1 >= ln->next_check || ln->pos_head >= ln->next_check_pos) {
        ln->seen_slot_tail = atomic_load_explicit(&ln->slot_tail,
                                                  memory_order_acquire);
        ln->seen_pos_tail = atomic_load_explicit(&ln->pos_tail,
                                                 memory_order_acquire);
        *half = sh + 1 - ln->seen_slot_tail >= ln->n_slots / 2 ||
                ln->pos_head - ln->seen_pos_tail >= ln->ring_size / 2;
        ln->next_check = sh + 1 + (ln->n_slots / 16 ? ln->n_slots / 16 : 1);
        ln->next_check_pos = ln->pos_head + ln->ring_size / 16;
    }
    prefetch_next(ln, bytes, nt);
    return ORRI_PLOG_APPENDED;
}

const void *orri_plog_lane_payload_at(const struct orri_plog_lane *ln,
                                      const struct orri_plog_slot *s)
{
    size_t at = (size_t)(s->pos % ln->ring_size);
    return at + s->bytes <= ln->ring_size ? ln->ring + at : NULL;
}

void orri_plog_lane_payload(const struct orri_plog_lane *ln,
                            const struct orri_plog_slot *s, void *dst)
{
    size_t at = (size_t)(s->pos % ln->ring_size);
    size_t first = ln->ring_size - at < s->bytes ? ln->ring_size - at
                                                  : s->bytes;
    memcpy(dst, ln->ring + at, first);
    memcpy((char *)dst + first, ln->ring, s->bytes - first);
}
