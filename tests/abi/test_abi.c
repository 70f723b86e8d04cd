/*
 * tests/abi/test_abi.c - the loader against fixture plugins: what it
 * accepts, what it refuses and with which words, what a refusal leaves
 * behind (nothing), lazy loading, instances and loaded models.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "plugin/model.h"
#include "plugin/registry.h"
#include "test.h"
#include "util/error.h"

#define FIX(f) ABI_FIXTURE_DIR "/" f
#define LAZY(f) ABI_LAZY_DIR "/" f

static struct orr_registry *new_registry(const char *dir)
{
    struct orr_registry *r = NULL;
    struct orr_error e = {0};
    const char *dirs[] = {dir};
    CHECK_INT(orr_registry_new(&r, dirs, dir ? 1 : 0, &e), ORR_OK);
    return r;
}

/* The plugin's exported counter, through the already loaded handle. */
static int *counter(const char *path, const char *name)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (!h)
        return NULL;
    int *p = dlsym(h, name);
    dlclose(h);     /* drops only the reference NOLOAD took */
    return p;
}

static void test_good(void)
{
    struct orr_registry *r = new_registry(NULL);
    struct orr_error e = {0};
    CHECK_INT(orr_registry_load_file(r, FIX("abi-good.so"), &e), ORR_OK);
    CHECK_INT(orr_registry_plugin_count(r), 1);
    CHECK_INT(orr_registry_refusal_count(r), 0);
    const struct orr_plugin_info *p = orr_registry_plugin_at(r, 0);
    CHECK_STR(p->name, "abi-good");
    CHECK_STR(p->version, "1.0.0");
    CHECK_STR(p->license, "MIT");
    CHECK_STR(p->path, FIX("abi-good.so"));
    CHECK_INT(p->abi_major, ORR_ABI_MAJOR);
    CHECK_INT(p->abi_minor, ORR_ABI_MINOR);
    CHECK_INT(orr_registry_backend_count(r), 3);

    const struct orr_backend *b = NULL;
    CHECK_INT(orr_registry_find(r, ORR_KIND_STORAGE, "abigood", &b, &e),
              ORR_OK);
    CHECK(b && b->kind == ORR_KIND_STORAGE && b->plugin == p);
    CHECK_INT(b->ops_version, 1);
    CHECK_STR(b->summary, "fixture store");
    CHECK(b->ops.storage.get != NULL);
    CHECK(b->ops.storage.put_file == NULL);     /* optional, left NULL */
    CHECK(b->self_size > 0);
    CHECK_INT(orr_registry_find(r, ORR_KIND_TRAINER, "abitiny", &b, &e),
              ORR_OK);
    CHECK_INT(orr_registry_find_flavor(r, "abitiny", &b, &e), ORR_OK);
    CHECK(b && !strcmp(b->name, "abitiny"));
    CHECK_INT(orr_registry_find(r, ORR_KIND_MONITOR, "abimon", &b, &e),
              ORR_OK);
    /* Same name, other kind: not found, and the known list is per kind. */
    CHECK_INT(orr_registry_find(r, ORR_KIND_SERVER, "abigood", &b, &e),
              ORR_ENOTFOUND);
    CHECK(b == NULL);
    CHECK_CONTAINS(e.msg, "unknown server backend 'abigood' (known: none)");
    CHECK_CONTAINS(e.msg, "ORRERY_PLUGIN_PATH");
    CHECK_INT(orr_registry_find(r, ORR_KIND_STORAGE, "nfs", &b, &e),
              ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, "unknown storage backend 'nfs' (known: abigood)");
    CHECK_INT(orr_registry_find(r, ORR_KIND_STORAGE, "", &b, &e),
              ORR_EINVAL);
    CHECK_INT(orr_registry_find_flavor(r, "nope", &b, &e), ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, "unknown model flavor 'nope' (known: abitiny)");
    orr_registry_free(r);
}

struct refusal_case {
    const char *file;
    int         code;
    const char *reason;
};

/* The abi-minor fixture is built with ORR_ABI_MINOR + 1. */
_Static_assert(ORR_ABI_MINOR == 2, "update the abi-minor refusal below");

static const struct refusal_case cases[] = {
    {"abi-major.so", ORR_EABI,
     "ABI major 2, this orrery has 1: rebuild the plugin against SDK 1.x"},
    {"abi-minor.so", ORR_EABI,
     "ABI 1.3 is newer than this orrery's 1.2: upgrade orrery"},
    {"abi-nosym.so", ORR_EABI,
     "not an Orrery plugin: no orr_plugin_describe symbol"},
    {"abi-noname.so", ORR_EINVAL, "descriptor field 'name' is empty"},
    {"abi-nolicense.so", ORR_EINVAL, "descriptor field 'license' is empty"},
    {"abi-noinit.so", ORR_EINVAL, "descriptor field 'init' is NULL"},
    {"abi-nullslot.so", ORR_EINVAL,
     "storage backend 'nullslot': mandatory member 'get' is NULL"},
    {"abi-newvt.so", ORR_EABI,
     "storage backend 'newvt': vtable version 2 is newer than this "
     "orrery's 1"},
    {"abi-dup2.so", ORR_EEXIST,
     "plugin name 'abi-dup' is already loaded from " FIX("abi-dup1.so")},
    {"abi-initfail.so", ORR_EBACKEND,
     "init failed: cannot reach the license server"},
    {"abi-dupbackend.so", ORR_EEXIST,
     "storage backend 'twin' is already registered by plugin "
     "'abi-fixture'"},
    {"abi-emptybackend.so", ORR_EINVAL, "storage backend with an empty name"},
    {"abi-nomodelsize.so", ORR_EINVAL,
     "trainer backend 'nosize': flavor 'nosize' needs model_size > 0"},
    {"abi-nopredict.so", ORR_EINVAL,
     "trainer backend 'nopredict': mandatory member 'predict' is NULL"},
    {"abi-monitornone.so", ORR_EINVAL,
     "monitor backend 'abimon': mandatory member 'analyze' or 'notify' is "
     "NULL"},
    {"abi-servernull.so", ORR_EINVAL,
     "server backend 'abiserver': mandatory member 'start' is NULL"},
    {"abi-orchnull.so", ORR_EINVAL,
     "orchestrator backend 'abiorch': mandatory member 'capacity' is NULL"},
    {"abi-abigood-again.so", ORR_EEXIST,
     "storage backend 'abigood' is already registered by plugin 'abi-good' "
     "(" FIX("abi-good.so") ")"},
};

static void test_refusals(void)
{
    struct orr_registry *r = new_registry(NULL);
    struct orr_error e = {0};
    CHECK_INT(orr_registry_load_file(r, FIX("abi-good.so"), &e), ORR_OK);
    CHECK_INT(orr_registry_load_file(r, FIX("abi-dup1.so"), &e), ORR_OK);
    size_t plugins = orr_registry_plugin_count(r);
    size_t backends = orr_registry_backend_count(r);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct refusal_case *c = &cases[i];
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", ABI_FIXTURE_DIR, c->file);
        size_t refusals = orr_registry_refusal_count(r);
        orr_error_clear(&e);
        int rc = orr_registry_load_file(r, path, &e);
        if (rc != c->code)
            fprintf(stderr, "case %s: %s\n", c->file, e.msg);
        CHECK_INT(rc, c->code);
        CHECK_INT(e.code, c->code);
        CHECK_CONTAINS(e.msg, path);            /* names the file ...   */
        CHECK_CONTAINS(e.msg, c->reason);       /* ... and the reason   */
        /* Nothing registered survives a refusal. */
        CHECK_INT(orr_registry_plugin_count(r), plugins);
        CHECK_INT(orr_registry_backend_count(r), backends);
        CHECK_INT(orr_registry_refusal_count(r), refusals + 1);
        const struct orr_refusal *f =
            orr_registry_refusal_at(r, orr_registry_refusal_count(r) - 1);
        CHECK(f != NULL);
        if (f) {
            CHECK_STR(f->path, path);
            CHECK_INT(f->code, c->code);
            CHECK_CONTAINS(f->reason, c->reason);
        }
    }
    /* Backends registered before the failing one were rolled back. */
    const struct orr_backend *b;
    CHECK_INT(orr_registry_find(r, ORR_KIND_STORAGE, "twin", &b, &e),
              ORR_ENOTFOUND);
    CHECK_INT(orr_registry_find(r, ORR_KIND_STORAGE, "rollme", &b, &e),
              ORR_ENOTFOUND);
    /* The refused duplicate left the first plugin's backend alone. */
    CHECK_INT(orr_registry_find(r, ORR_KIND_STORAGE, "abigood", &b, &e),
              ORR_OK);
    CHECK_STR(b->plugin->name, "abi-good");
    orr_registry_free(r);
}

static void test_bad_files(void)
{
    struct orr_registry *r = new_registry(NULL);
    struct orr_error e = {0};
    char dir[] = "/tmp/orr-abi-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/garbage.so", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("this is not an ELF file\n", f);
        fclose(f);
    }
    CHECK_INT(orr_registry_load_file(r, path, &e), ORR_EABI);
    CHECK_CONTAINS(e.msg, path);
    CHECK_CONTAINS(e.msg, "cannot load: ");
    unlink(path);
    CHECK_INT(orr_registry_load_file(r, path, &e), ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, path);
    CHECK_INT(orr_registry_load_file(r, dir, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "not a regular file");
    rmdir(dir);
    CHECK_INT(orr_registry_refusal_count(r), 3);
    CHECK_INT(orr_registry_plugin_count(r), 0);

    /* A bare file name is a file in the current directory, never a
     * library searched on the system's path. */
    char cwd[1024];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK_INT(chdir(ABI_FIXTURE_DIR), 0);
    CHECK_INT(orr_registry_load_file(r, "abi-dup1.so", &e), ORR_OK);
    CHECK_INT(chdir(cwd), 0);
    CHECK_INT(orr_registry_plugin_count(r), 1);

    /* Registration outside a plugin's init is refused. */
    struct orr_storage_ops ops = {.version = 1, .name = "x"};
    CHECK_INT(orri_registry_add(r, ORR_KIND_STORAGE, &ops, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "only be registered from a plugin's init");
    orr_registry_free(r);
}

static void test_lazy(void)
{
    struct orr_registry *r = new_registry(ABI_LAZY_DIR);
    struct orr_error e = {0};
    const struct orr_backend *b;
    CHECK_INT(orr_registry_plugin_count(r), 0);     /* nothing up front */
    CHECK_INT(orr_registry_find(r, ORR_KIND_STORAGE, "lazya", &b, &e),
              ORR_OK);
    CHECK_INT(orr_registry_plugin_count(r), 1);     /* only that file */
    CHECK_STR(orr_registry_plugin_at(r, 0)->path, LAZY("storage-lazya.so"));
    CHECK_INT(orr_registry_find(r, ORR_KIND_STORAGE, "lazya", &b, &e),
              ORR_OK);
    CHECK_INT(orr_registry_plugin_count(r), 1);     /* cached */
    CHECK_INT(orr_registry_find(r, ORR_KIND_STORAGE, "lazyb", &b, &e),
              ORR_OK);
    CHECK_INT(orr_registry_plugin_count(r), 2);
    CHECK_INT(orr_registry_find_flavor(r, "lazyt", &b, &e), ORR_OK);
    CHECK_INT(orr_registry_plugin_count(r), 3);
    CHECK_INT(orr_registry_refusal_count(r), 0);
    /* Not under its own name: every storage-*.so, then the rest. */
    CHECK_INT(orr_registry_find(r, ORR_KIND_STORAGE, "hidden", &b, &e),
              ORR_OK);
    CHECK_STR(b->plugin->path, LAZY("other-thing.so"));
    CHECK_INT(orr_registry_plugin_count(r), 4);
    CHECK_INT(orr_registry_refusal_count(r), 1);    /* storage-broken.so */
    CHECK_INT(orr_registry_find(r, ORR_KIND_STORAGE, "nope", &b, &e),
              ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, "unknown storage backend 'nope' "
                          "(known: lazya, lazyb, hidden)");
    /* A backend whose own file was refused says why. */
    CHECK_INT(orr_registry_find(r, ORR_KIND_STORAGE, "broken", &b, &e),
              ORR_EABI);
    CHECK_CONTAINS(e.msg, LAZY("storage-broken.so"));
    CHECK_CONTAINS(e.msg, "ABI major 2");
    orr_registry_load_all(r);                       /* nothing left */
    CHECK_INT(orr_registry_plugin_count(r), 4);
    CHECK_INT(orr_registry_refusal_count(r), 1);
    CHECK_INT(orr_registry_dir_count(r), 1);
    CHECK_STR(orr_registry_dir_at(r, 0), ABI_LAZY_DIR);
    orr_registry_free(r);

    /* load_all loads everything, each file once even if a directory is
     * listed twice. */
    const char *dirs[] = {ABI_LAZY_DIR, ABI_LAZY_DIR "/."};
    CHECK_INT(orr_registry_new(&r, dirs, 2, &e), ORR_OK);
    orr_registry_load_all(r);
    CHECK_INT(orr_registry_plugin_count(r), 4);
    CHECK_INT(orr_registry_refusal_count(r), 1);
    orr_registry_free(r);
}

static void write_model(const char *dir, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/model.txt", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_model(void)
{
    struct orr_registry *r = new_registry(ABI_LAZY_DIR);
    struct orr_error e = {0};
    const struct orr_backend *b;
    CHECK_INT(orr_registry_find_flavor(r, "lazyt", &b, &e), ORR_OK);
    int *unloads = counter(LAZY("trainer-lazyt.so"), "fixture_unloads");
    CHECK(unloads != NULL);
    if (!unloads)
        return;
    char dir[] = "/tmp/orr-model-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);

    /* A directory without the model file: the half-loaded model is
     * unloaded and the error says which runtime and directory. */
    struct orr_model *m = NULL;
    int before = *unloads;
    CHECK_INT(orr_model_load_backend(b, dir, &m, &e), ORR_ENOTFOUND);
    CHECK(m == NULL);
    CHECK_CONTAINS(e.msg, "load lazyt model from ");
    CHECK_CONTAINS(e.msg, "no such model file");
    CHECK_INT(*unloads, before + 1);

    write_model(dir, "3 0.5\n");
    CHECK_INT(orr_model_load_backend(b, dir, &m, &e), ORR_OK);
    double xin[] = {1, 2}, yout[2] = {0};
    struct orr_matrix x = {2, 1, xin, 2}, y = {0, 0, yout, 2};
    CHECK_INT(orr_model_predict(m, &x, &y, &e), ORR_OK);
    CHECK_INT(y.rows, 2);
    CHECK_INT(y.cols, 1);
    CHECK_NEAR(yout[0], 3.5, 1e-12);
    CHECK_NEAR(yout[1], 6.5, 1e-12);
    x.cols = 2;
    CHECK_INT(orr_model_predict(m, &x, &y, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "expected 1 feature, got 2");

    struct orr_model_info info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    CHECK_INT(orr_model_info(m, &info, &e), ORR_OK);
    CHECK_INT(info.task, ORR_TASK_REGRESSION);
    CHECK_INT(info.n_features, 1);
    CHECK_INT(info.size, sizeof info);
    /* A caller from an older SDK gets only the prefix it knows. */
    memset(&info, 0, sizeof info);
    info.size = offsetof(struct orr_model_info, n_features);
    info.n_features = 777;
    CHECK_INT(orr_model_info(m, &info, &e), ORR_OK);
    CHECK_INT(info.task, ORR_TASK_REGRESSION);
    CHECK_INT(info.n_features, 777);
    CHECK_INT(info.size, offsetof(struct orr_model_info, n_features));

    before = *unloads;
    orr_model_retain(m);
    orr_model_release(m);
    CHECK_INT(*unloads, before);        /* one reference left */
    orr_model_release(m);
    CHECK_INT(*unloads, before + 1);
    orr_model_release(NULL);

    /* Not a runtime. */
    CHECK_INT(orr_registry_find(r, ORR_KIND_STORAGE, "lazya", &b, &e),
              ORR_OK);
    CHECK_INT(orr_model_load_backend(b, dir, &m, &e), ORR_EINVAL);
    char path[512];
    snprintf(path, sizeof path, "%s/model.txt", dir);
    unlink(path);
    rmdir(dir);
    orr_registry_free(r);
}

/* Instances and models through a core whose search path is the lazy
 * directory. */
static void test_core(void)
{
    char dir[] = "/tmp/orr-core-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char cwd[1024];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK_INT(chdir(dir), 0);               /* no ./orrery.site.lua */
    unsetenv("ORRERY_SITE");
    setenv("XDG_CONFIG_HOME", dir, 1);
    setenv("ORRERY_PLUGIN_PATH", ABI_LAZY_DIR, 1);

    struct orr_core *core = NULL;
    struct orr_error e = {0};
    CHECK_INT(orr_core_open(&core, NULL, &e), ORR_OK);
    if (!core)
        goto out;
    struct orr_registry *r = orr_core_registry(core);
    CHECK_INT(orr_registry_plugin_count(r), 0);
    CHECK_STR(orr_registry_dir_at(r, 0), ABI_LAZY_DIR);

    struct orr_instance *inst = NULL;
    CHECK_INT(orr_instance_open(core, ORR_KIND_STORAGE, "lazya", NULL, &inst,
                                &e), ORR_OK);
    CHECK(inst && inst->self && !strcmp(inst->backend->name, "lazya"));
    CHECK_INT(orr_registry_plugin_count(r), 1);
    int *closes = counter(LAZY("storage-lazya.so"), "fixture_closes");
    CHECK(closes != NULL);
    int before = closes ? *closes : 0;
    orr_instance_close(inst);
    orr_instance_close(NULL);
    if (closes)
        CHECK_INT(*closes, before + 1);

    /* A failed open is closed (and its memory freed: ASan checks) and
     * the error names the backend. */
    struct orr_cfg *cfg = orr_cfg_new_table();
    orr_cfg_set_bool(cfg, "fail_open", 1, "test");
    orr_cfg_set_str(cfg, "root", "/srv/x", "test");
    CHECK_INT(orr_instance_open(core, ORR_KIND_STORAGE, "lazya", cfg, &inst,
                                &e), ORR_EIO);
    CHECK(inst == NULL);
    CHECK_STR(e.msg, "storage backend 'lazya': disk on fire (/srv/x)");
    if (closes)
        CHECK_INT(*closes, before + 2);
    orr_cfg_free(cfg);

    CHECK_INT(orr_instance_open(core, ORR_KIND_STORAGE, "nfs", NULL, &inst,
                                &e), ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, "unknown storage backend 'nfs'");
    /* The site's default storage may or may not be built here; either
     * way the answer is about it. */
    if (orr_instance_open(core, ORR_KIND_STORAGE, NULL, NULL, &inst, &e))
        CHECK_CONTAINS(e.msg, "'fs'");
    orr_instance_close(inst);
    /* Trainers have no site-wide choice. */
    CHECK_INT(orr_instance_open(core, ORR_KIND_TRAINER, NULL, NULL, &inst,
                                &e), ORR_ECONFIG);
    CHECK_CONTAINS(e.msg, "no trainer backend selected");

    struct orr_model *m = NULL;
    write_model(dir, "1 1\n");
    CHECK_INT(orr_model_load(core, "lazyt", dir, &m, &e), ORR_OK);
    orr_model_release(m);
    CHECK_INT(orr_model_load(core, "nosuch", dir, &m, &e), ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, "unknown model flavor 'nosuch'");
    CHECK_CONTAINS(e.msg, "lazyt");
    orr_core_close(core);
out:
    unlink("model.txt");
    CHECK_INT(chdir(cwd), 0);
    rmdir(dir);
    unsetenv("ORRERY_PLUGIN_PATH");
}

TEST_MAIN({"good", test_good}, {"refusals", test_refusals},
          {"bad_files", test_bad_files}, {"lazy", test_lazy},
          {"model", test_model}, {"core", test_core})
