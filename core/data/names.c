/*
 * data/names.c - named dataset versions (see data/names.h).
 * The versions live in the metadata store's dataset_versions table
 * (meta/datasets.h); this file parses names and URIs.
 */
#include "data/names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "meta/datasets.h"
#include "storage/artifacts.h"
#include "util/error.h"

#define PREFIX "datasets:/"

ORR_API int orr_dataset_name_is_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 128 || name[0] == '.')
        return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789._-") == n;
}

ORR_API int orr_dataset_add_version(struct orr_core *core, const char *name,
                                    const char *digest, uint64_t size,
                                    int64_t *version, int *is_new,
                                    struct orr_error *e)
{
    struct orr_meta *m;
    if (!orr_dataset_name_is_valid(name))
        return orr_fail(e, ORR_EINVAL, "bad dataset name '%s' (use letters, "
                        "digits, '.', '_' and '-')", name);
    int rc = orr_core_meta(core, &m, e);
    if (!rc)
        rc = orr_meta_artifact(m, 0, ORR_EVENT_OUTPUT, digest, size,
                               "dataset", name, e);
    if (!rc)
        rc = orr_meta_dataset_add(m, name, digest, size, version, is_new, e);
    return rc;
}

ORR_API int orr_dataset_resolve(struct orr_core *core, const char *uri,
                                char digest[ORR_DIGEST_HEX_LEN + 1],
                                int64_t *version, struct orr_error *e)
{
    if (strncmp(uri, PREFIX, strlen(PREFIX)))
        return orr_fail(e, ORR_EINVAL, "not a dataset URI: %s", uri);
    char name[160];
    const char *rest = uri + strlen(PREFIX);
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    long long want = 0;
    if (n >= sizeof name)
        return orr_fail(e, ORR_EINVAL, "bad dataset URI: %s", uri);
    memcpy(name, rest, n);
    name[n] = '\0';
    if (slash) {
        char *end;
        want = strtoll(slash + 1, &end, 10);
        if (*end || want < 1)
            return orr_fail(e, ORR_EINVAL, "bad version in %s (expected "
                            "datasets:/NAME/N with N >= 1)", uri);
    }
    if (!orr_dataset_name_is_valid(name))
        return orr_fail(e, ORR_EINVAL, "bad dataset name in %s", uri);
    struct orr_meta *m;
    int rc = orr_core_meta(core, &m, e);
    if (rc)
        return rc;
    int64_t v = want;
    rc = orr_meta_dataset_get(m, name, &v, digest, e);
    if (!rc)
        *version = v;
    return rc;
}
