/*
 * orrery/conformance/storage.h - the storage conformance suite.
 *
 * Any storage backend - in-tree or third-party - runs this battery against
 * itself to show it keeps the contract of orrery/storage.h: SHA-256 test
 * vectors, round trips of empty, small and multi-chunk data, dedup, stat,
 * list by prefix, remove, refusal of keys that are not lower-case hex,
 * failing callbacks, the optional file fast paths, corruption detection
 * and concurrent instances.
 *
 * Run it on a scratch store: it stores and removes blobs of its own (and
 * may remove a blob with the same content that was there before).
 *
 *     int failures = orr_conformance_storage(orr_test_host(), ops, cfg,
 *                                            stdout);
 *
 * One line per check goes to `report` ("ok   storage.list",
 * "FAIL storage.dedup: ...", "skip storage.corrupt: ..."), then a summary
 * line "storage conformance: N passed, N failed, N skipped".  The return
 * value is the number of failed checks.
 */
#ifndef ORRERY_CONFORMANCE_STORAGE_H
#define ORRERY_CONFORMANCE_STORAGE_H

#include <stdio.h>

#include <orrery/host.h>

#ifdef __cplusplus
extern "C" {
#endif

struct orr_conformance_storage_opts {
    /* Damage the stored copy of blob `digest` so that its bytes no longer
     * hash to it (e.g. flip one byte); return 0 on success.  NULL: the
     * corruption checks are skipped (a backend that cannot reach its
     * stored bytes from outside). */
    int (*corrupt)(void *ctx, const char *digest);
    void *corrupt_ctx;
    /* Directory for the scratch files of the put_file/get_file checks
     * (a fresh subdirectory is made and removed).  NULL: $TMPDIR or /tmp. */
    const char *scratch_dir;
    /* Threads for the concurrency check; 0 means 4. */
    unsigned threads;
    /* Run only the checks whose name contains this string; NULL: all. */
    const char *only;
};

/* Run every check with default options.  `host` is the host table to
 * allocate instances with (orr_test_host() or the core's), `ops` the
 * backend, `cfg` its configuration (instances are opened on it as
 * needed).  `report` may be NULL.  Returns the number of failed checks. */
int orr_conformance_storage(const struct orr_host *host,
                            const struct orr_storage_ops *ops,
                            const struct orr_cfg *cfg, FILE *report);

/* The same with options (`opt` may be NULL). */
int orr_conformance_storage_ex(const struct orr_host *host,
                               const struct orr_storage_ops *ops,
                               const struct orr_cfg *cfg,
                               const struct orr_conformance_storage_opts *opt,
                               FILE *report);

/* SHA-256 of `len` bytes as 64 lower-case hex digits, computed by the
 * suite's own portable implementation (for checking digests
 * independently of the backend). */
void orr_conformance_sha256_hex(const void *data, size_t len,
                                char out[ORR_DIGEST_HEX_LEN + 1]);

#ifdef __cplusplus
}
#endif
#endif /* ORRERY_CONFORMANCE_STORAGE_H */
