/*
 * tests/unit/test_plugin_host.c - the host table as a plugin sees it.
 */
#include <stddef.h>
#include <string.h>

#include "config/cfg.h"
#include "meta/run_handle.h"
#include "plugin/host.h"
#include "plugin/model.h"
#include "test.h"

/* Every member of the table is set: a plugin never finds a NULL. */
static void test_complete(void)
{
    const struct orr_host *h = orri_host_table();
    CHECK(h != NULL);
    CHECK_INT(h->abi_major, ORR_ABI_MAJOR);
    CHECK_INT(h->abi_minor, ORR_ABI_MINOR);
    CHECK_INT(h->size, sizeof(struct orr_host));
    size_t first = offsetof(struct orr_host, alloc);
    size_t n = (sizeof *h - first) / sizeof(void (*)(void));
    for (size_t i = 0; i < n; i++) {
        void (*fn)(void);
        memcpy(&fn, (const char *)h + first + i * sizeof fn, sizeof fn);
        if (!fn)
            fprintf(stderr, "member %zu is NULL\n", i);
        CHECK(fn != NULL);
    }
    CHECK(h == orri_host_table());          /* one table per process */
}

static void test_memory_and_errors(void)
{
    const struct orr_host *h = orri_host_table();
    void *p = h->alloc(0);                  /* never NULL for 0 bytes */
    CHECK(p != NULL);
    h->free(p);
    h->free(NULL);
    unsigned char *z = h->calloc(4, 8);
    CHECK(z != NULL);
    int zero = 1;
    for (int i = 0; z && i < 32; i++)
        zero &= z[i] == 0;
    CHECK(zero);
    z = h->realloc(z, 64);
    CHECK(z != NULL);
    h->free(z);
    CHECK(h->calloc((size_t)-1, 16) == NULL);       /* overflow checked */

    struct orr_error e = {0};
    CHECK_INT(h->fail(&e, ORR_EIO, "open %s: %d", "x", 5), ORR_EIO);
    CHECK_INT(e.code, ORR_EIO);
    CHECK_STR(e.msg, "open x: 5");
    CHECK_INT(h->fail(NULL, ORR_EINVAL, "ignored"), ORR_EINVAL);
    CHECK_STR(h->strerror(ORR_ENOTFOUND), "not found");
    h->log(ORR_LOG_DEBUG, "test", "below the default threshold: %d", 1);
}

static int count_keys(void *ctx, const char *key, const char *value)
{
    (void)key; (void)value;
    (*(int *)ctx)++;
    return 0;
}

static void test_cfg(void)
{
    const struct orr_host *h = orri_host_table();
    struct orr_cfg *t = orr_cfg_new_table();
    orr_cfg_set_str(t, "root", "/data", "test");
    orr_cfg_set_int(t, "jobs", 4, "test");
    orr_cfg_set_bool(t, "sync", 1, "test");
    struct orr_cfg *sub = orr_cfg_set_table(t, "s3", "test");
    orr_cfg_set_num(sub, "ratio", 0.25, "test");
    CHECK_STR(h->cfg_str(t, "root", "x"), "/data");
    CHECK_STR(h->cfg_str(t, "nope", "x"), "x");
    CHECK_STR(h->cfg_str(NULL, "root", "d"), "d");
    CHECK_INT(h->cfg_int(t, "jobs", 0), 4);
    CHECK_INT(h->cfg_bool(t, "sync", 0), 1);
    CHECK_NEAR(h->cfg_num(h->cfg_child(t, "s3"), "ratio", 0), 0.25, 0);
    CHECK(h->cfg_child(t, "root") == NULL);
    int n = 0;
    CHECK_INT(h->cfg_each(t, count_keys, &n), 0);
    CHECK_INT(n, 4);
    orr_cfg_free(t);
}

static void test_unbound(void)
{
    const struct orr_host *h = orri_host_table();
    struct orr_error e = {0};
    orri_host_bind(NULL);
    /* No run: metadata calls are no-ops. */
    CHECK_INT(h->log_metric(NULL, "loss", 0.5, 1, &e), ORR_OK);
    CHECK_INT(h->log_param(NULL, "k", "v", &e), ORR_OK);
    CHECK_INT(h->set_tag(NULL, "k", "v", &e), ORR_OK);
    /* A run without core or store, and no bound core: unsupported. */
    struct orr_run run = {0};
    CHECK_INT(h->log_metric(&run, "loss", 0.5, 1, &e), ORR_EUNSUPPORTED);
    CHECK_INT(h->log_metric(&run, "", 0.5, 1, &e), ORR_EINVAL);
    char digest[ORR_DIGEST_HEX_LEN + 1];
    CHECK_INT(h->artifact_put_file(NULL, "/etc/hostname", "report", digest,
                                   &e), ORR_EUNSUPPORTED);
    CHECK_CONTAINS(e.msg, "core not bound");
    CHECK_INT(h->artifact_get_file("00", "/tmp/x", &e), ORR_EUNSUPPORTED);
    /* Models are the core's own functions. */
    CHECK(h->model_retain == orr_model_retain);
    CHECK(h->model_release == orr_model_release);
    h->model_release(NULL);
    struct orr_model_info info = {.size = sizeof info};
    CHECK_INT(h->model_info(NULL, &info, &e), ORR_EINVAL);
}

TEST_MAIN({"complete", test_complete},
          {"memory_and_errors", test_memory_and_errors}, {"cfg", test_cfg},
          {"unbound", test_unbound})
