/*
 * tests/unit/test_config_cfg.c - the configuration tree (config/cfg.c).
 */
#include "config/cfg.h"

#include "test.h"

static const char *key_at(const struct orr_cfg *t, size_t i)
{
    return i < t->n_items ? t->items[i]->key : "(none)";
}

static void test_sorted_numeric(void)
{
    struct orr_cfg *t = orr_cfg_new_table();
    const char *keys[] = {"10", "b", "2", "1x", "1", "a", "9"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        CHECK(orr_cfg_set_int(t, keys[i], (int64_t)i, "t"));
    const char *want[] = {"1", "2", "9", "10", "1x", "a", "b"};
    CHECK_INT(t->n_items, 7);
    for (size_t i = 0; i < 7; i++)
        CHECK_STR(key_at(t, i), want[i]);
    CHECK(!t->is_array);
    /* Every key is found again: the order is total (this failed with
     * "2" < "10" < "1x" < "2"). */
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        CHECK_INT(orr_cfg_int(t, keys[i], -1), (int64_t)i);
    orr_cfg_free(t);

    t = orr_cfg_new_table();
    for (int i = 12; i >= 1; i--) {
        char k[8];
        snprintf(k, sizeof k, "%d", i);
        orr_cfg_set_int(t, k, i, NULL);
    }
    CHECK(t->is_array);
    CHECK_STR(key_at(t, 9), "10");
    CHECK_INT(orr_cfg_int(t, "12", 0), 12);
    orr_cfg_set_int(t, "14", 14, NULL);     /* a hole: not a sequence */
    CHECK(!t->is_array);
    orr_cfg_free(t);
}

static void test_get_paths(void)
{
    struct orr_cfg *t = orr_cfg_new_table();
    struct orr_cfg *s = orr_cfg_set_table(t, "storage", "f:1");
    struct orr_cfg *x = orr_cfg_set_table(s, "s3", "f:2");
    orr_cfg_set_str(x, "bucket", "b1", "f:3");
    orr_cfg_set_str(s, "backend", "s3", "f:4");
    CHECK_STR(orr_cfg_str(t, "storage.s3.bucket", NULL), "b1");
    CHECK_STR(orr_cfg_get(t, "storage.s3.bucket")->origin, "f:3");
    CHECK(orr_cfg_get(t, "storage.s3") == x);
    CHECK(orr_cfg_child(t, "storage.s3") == x);
    CHECK(orr_cfg_child(t, "storage.backend") == NULL);  /* a scalar */
    CHECK(orr_cfg_get(t, "storage.backend.x") == NULL);  /* through one */
    CHECK(orr_cfg_get(t, "storage.nope") == NULL);
    CHECK(orr_cfg_get(t, "storage.") == NULL);
    CHECK(orr_cfg_get(t, "") == NULL);
    CHECK(orr_cfg_get(t, NULL) == NULL);
    CHECK(orr_cfg_get(NULL, "storage") == NULL);
    /* A key of 256+ bytes can be neither set nor found. */
    char longkey[300];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    CHECK(orr_cfg_set_int(t, longkey, 1, NULL) == NULL);
    CHECK(orr_cfg_get(t, longkey) == NULL);
    /* Setting into a scalar fails. */
    CHECK(orr_cfg_set_int((struct orr_cfg *)orr_cfg_get(t, "storage.backend"),
                          "x", 1, NULL) == NULL);
    orr_cfg_free(t);
}

static void test_typed_getters(void)
{
    struct orr_cfg *t = orr_cfg_new_table();
    orr_cfg_set_int(t, "i", 42, NULL);
    orr_cfg_set_num(t, "d", 2.5, NULL);
    orr_cfg_set_num(t, "whole", 3.0, NULL);
    orr_cfg_set_num(t, "huge", 1e300, NULL);
    orr_cfg_set_bool(t, "b", 1, NULL);
    orr_cfg_set_str(t, "s", "text", NULL);
    CHECK_INT(orr_cfg_int(t, "i", 0), 42);
    CHECK_NEAR(orr_cfg_num(t, "i", 0), 42.0, 0);
    CHECK_NEAR(orr_cfg_num(t, "d", 0), 2.5, 0);
    CHECK_INT(orr_cfg_int(t, "d", -1), -1);          /* not integral   */
    CHECK_INT(orr_cfg_int(t, "whole", -1), 3);
    CHECK_INT(orr_cfg_int(t, "huge", -1), -1);       /* out of range   */
    CHECK_INT(orr_cfg_bool(t, "b", 0), 1);
    CHECK_INT(orr_cfg_bool(t, "s", 7), 7);           /* wrong type     */
    CHECK_STR(orr_cfg_str(t, "s", NULL), "text");
    CHECK_STR(orr_cfg_str(t, "i", "def"), "def");    /* wrong type     */
    CHECK_STR(orr_cfg_str(t, "missing", "def"), "def");
    CHECK_INT(orr_cfg_int(NULL, "i", 9), 9);
    CHECK_NEAR(orr_cfg_num(t, "s", 1.5), 1.5, 0);
    orr_cfg_free(t);
}

static void test_replace(void)
{
    struct orr_cfg *t = orr_cfg_new_table();
    struct orr_cfg *c = orr_cfg_set_str(t, "k", "v", "f:1");
    c->secret = 1;
    c = orr_cfg_set_int(t, "k", 5, NULL);
    CHECK_INT(t->n_items, 1);
    CHECK_INT(c->type, ORR_CFG_INTEGER);
    CHECK(c->origin == NULL);      /* no stale origin from the old value */
    CHECK_INT(c->secret, 0);
    struct orr_cfg *tab = orr_cfg_set_table(t, "t", "a");
    orr_cfg_set_int(tab, "x", 1, NULL);
    CHECK(orr_cfg_set_table(t, "t", "b") == tab);   /* kept, children too */
    CHECK_INT(orr_cfg_int(t, "t.x", 0), 1);
    CHECK_STR(tab->origin, "b");
    orr_cfg_set_str(t, "t", "now a string", NULL);  /* table -> scalar */
    CHECK_STR(orr_cfg_str(t, "t", NULL), "now a string");
    CHECK(orr_cfg_get(t, "t.x") == NULL);
    orr_cfg_free(t);
    orr_cfg_free(NULL);
}

static void test_merge(void)
{
    struct orr_cfg *dst = orr_cfg_new_table(), *src = orr_cfg_new_table();
    struct orr_cfg *d = orr_cfg_set_table(dst, "storage", "default");
    orr_cfg_set_str(d, "backend", "fs", "default");
    orr_cfg_set_str(d, "root", ".orrery/blobs", "default");
    struct orr_cfg *dl = orr_cfg_set_table(dst, "list", "default");
    orr_cfg_set_str(dl, "1", "a", "default");
    orr_cfg_set_str(dl, "2", "b", "default");
    orr_cfg_set_int(dst, "n", 1, "default");

    struct orr_cfg *s = orr_cfg_set_table(src, "storage", "f:2");
    orr_cfg_set_str(s, "root", "/data", "f:2");
    orr_cfg_set_str(s, "secret_key", "xyz", "f:2")->secret = 1;
    struct orr_cfg *sl = orr_cfg_set_table(src, "list", "f:3");
    orr_cfg_set_str(sl, "1", "z", "f:3");
    orr_cfg_set_num(src, "n", 0.5, "f:4");

    CHECK_INT(orr_cfg_merge(dst, src), ORR_OK);
    CHECK_STR(orr_cfg_str(dst, "storage.backend", NULL), "fs");
    CHECK_STR(orr_cfg_get(dst, "storage.backend")->origin, "default");
    CHECK_STR(orr_cfg_str(dst, "storage.root", NULL), "/data");
    CHECK_STR(orr_cfg_get(dst, "storage.root")->origin, "f:2");
    CHECK_INT(orr_cfg_get(dst, "storage.secret_key")->secret, 1);
    CHECK_INT(orr_cfg_child(dst, "list")->n_items, 1);  /* replaced whole */
    CHECK_STR(orr_cfg_str(dst, "list.1", NULL), "z");
    CHECK(orr_cfg_child(dst, "list")->is_array);
    CHECK_NEAR(orr_cfg_num(dst, "n", 0), 0.5, 0);
    /* src is untouched (deep copy). */
    CHECK_INT(s->n_items, 2);
    CHECK_INT(orr_cfg_merge(dst, NULL), ORR_EINVAL);
    CHECK_INT(orr_cfg_merge((struct orr_cfg *)orr_cfg_get(dst, "n"), src),
              ORR_EINVAL);             /* into a scalar */
    orr_cfg_free(src);
    orr_cfg_free(dst);
}

struct seen {
    char text[256];
    int  stop_at;
    int  calls;
};

static int collect(void *ctx, const char *key, const char *value)
{
    struct seen *s = ctx;
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof s->text - n, "%s=%s;", key,
             value ? value : "(table)");
    return ++s->calls == s->stop_at ? 99 : 0;
}

static void test_each(void)
{
    struct orr_cfg *t = orr_cfg_new_table();
    orr_cfg_set_str(t, "b", "x", NULL);
    orr_cfg_set_int(t, "a", -3, NULL);
    orr_cfg_set_table(t, "c", NULL);
    orr_cfg_set_bool(t, "d", 0, NULL);
    orr_cfg_set_num(t, "e", 0.1, NULL);
    struct seen s = {{0}, 0, 0};
    CHECK_INT(orr_cfg_each(t, collect, &s), ORR_OK);
    CHECK_STR(s.text, "a=-3;b=x;c=(table);d=false;e=0.1;");
    struct seen stop = {{0}, 2, 0};
    CHECK_INT(orr_cfg_each(t, collect, &stop), 99);
    CHECK_INT(stop.calls, 2);
    CHECK_INT(orr_cfg_each(NULL, collect, &s), ORR_OK);
    orr_cfg_free(t);
}

static void test_scalar_text(void)
{
    struct orr_cfg *t = orr_cfg_new_table();
    char buf[64];
    CHECK_STR(orr_cfg_scalar_text(orr_cfg_set_num(t, "a", 0.1, NULL), buf,
                                  sizeof buf), "0.1");
    CHECK_STR(orr_cfg_scalar_text(orr_cfg_set_num(t, "a", 1.0 / 3, NULL),
                                  buf, sizeof buf), "0.3333333333333333");
    CHECK_STR(orr_cfg_scalar_text(orr_cfg_set_num(t, "a", 1e300, NULL), buf,
                                  sizeof buf), "1e+300");
    CHECK_STR(orr_cfg_scalar_text(orr_cfg_set_int(t, "a", INT64_MIN, NULL),
                                  buf, sizeof buf), "-9223372036854775808");
    CHECK_STR(orr_cfg_scalar_text(orr_cfg_set_bool(t, "a", 5, NULL), buf,
                                  sizeof buf), "true");
    CHECK(orr_cfg_scalar_text(orr_cfg_set_table(t, "a", NULL), buf,
                              sizeof buf) == NULL);
    CHECK(orr_cfg_scalar_text(NULL, buf, sizeof buf) == NULL);
    orr_cfg_free(t);
}

TEST_MAIN({"sorted_numeric", test_sorted_numeric},
          {"get_paths", test_get_paths},
          {"typed_getters", test_typed_getters},
          {"replace", test_replace},
          {"merge", test_merge},
          {"each", test_each},
          {"scalar_text", test_scalar_text})
