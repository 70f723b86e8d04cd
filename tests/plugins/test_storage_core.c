/*
 * test_storage_core.c - storage-fs through the real core: orr_core_open
 * with a site file in a fresh directory, the plugin found on
 * ORRERY_PLUGIN_PATH and loaded by the core's loader, the site's storage
 * opened with orr_core_storage, then the storage conformance suite on that
 * backend (with the core's own host table) and the core's wrappers
 * (storage/artifacts.h) on the instance itself.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <orrery/conformance/storage.h>

#include "core.h"
#include "plugin/host.h"
#include "storage/artifacts.h"
#include "test.h"

static char dir[PATH_MAX], cwd[PATH_MAX];

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            char sub[PATH_MAX];
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            rm_rf(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* A site in a fresh directory that is also the working directory. */
static struct orr_core *open_core(void)
{
    struct orr_core *core = NULL;
    struct orr_error e = {0};
    char site[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "/tmp/orr-core-storage-XXXXXX");
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(mkdtemp(dir) != NULL);
    CHECK(chdir(dir) == 0);
    setenv("ORRERY_PLUGIN_PATH", ORR_TEST_PLUGIN_DIR, 1);
    unsetenv("ORRERY_SITE");
    setenv("XDG_CONFIG_HOME", dir, 1);
    snprintf(site, sizeof site, "%s/orrery.site.lua", dir);
    FILE *f = fopen(site, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("storage = { backend = \"fs\", root = \"site-blobs\" }\n", f);
        fclose(f);
    }
    struct orr_core_options opt = {site};
    int rc = orr_core_open(&core, &opt, &e);
    CHECK_INT(rc, ORR_OK);
    if (rc)
        fprintf(stderr, "orr_core_open: %s\n", e.msg);
    return core;
}

static void close_core(struct orr_core *core)
{
    orr_core_close(core);
    CHECK(chdir(cwd) == 0);
    rm_rf(dir);
}

static void test_conformance_through_core(void)
{
    struct orr_core *core = open_core();
    struct orr_instance *st = NULL;
    struct orr_error e = {0};
    if (!core)
        goto out;
    int rc = orr_core_storage(core, &st, &e);
    CHECK_INT(rc, ORR_OK);
    if (rc) {
        fprintf(stderr, "orr_core_storage: %s\n", e.msg);
        goto out;
    }
    CHECK_STR(st->backend->name, "fs");
    CHECK(st->backend->plugin != NULL);
    if (st->backend->plugin)
        CHECK_CONTAINS(st->backend->plugin->path, "storage-fs.so");
    const struct orr_cfg *cfg = orr_site_backend_cfg(orr_core_site(core),
                                                     ORR_KIND_STORAGE, "fs");
    CHECK(cfg != NULL);
    struct orr_conformance_storage_opts opt = {0};
    opt.scratch_dir = dir;
    CHECK_INT(orr_conformance_storage_ex(orri_host_table(),
                                         &st->backend->ops.storage, cfg,
                                         &opt, stdout), 0);
    /* The site's root, resolved against the working directory. */
    struct stat sb;
    CHECK(stat("site-blobs/sha256", &sb) == 0 && S_ISDIR(sb.st_mode));
out:
    close_core(core);
}

static void test_wrappers_on_site_instance(void)
{
    struct orr_core *core = open_core();
    struct orr_instance *st = NULL;
    struct orr_error e = {0};
    char d[ORR_DIGEST_HEX_LEN + 1];
    if (!core || orr_core_storage(core, &st, &e)) {
        CHECK(!"no storage instance");
        fprintf(stderr, "%s\n", e.msg);
        close_core(core);
        return;
    }
    FILE *f = fopen("model.bin", "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("abc", f);
        fclose(f);
    }
    CHECK_INT(orr_storage_put_file(st, "model.bin", d, &e), ORR_OK);
    CHECK_STR(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f"
                 "20015ad");
    CHECK_INT(orr_storage_get_file(st, d, "copy.bin", &e), ORR_OK);
    void *buf = NULL;
    size_t len = 0;
    CHECK_INT(orr_storage_get_buf(st, d, 16, &buf, &len, &e), ORR_OK);
    CHECK_STR(buf, "abc");
    free(buf);
    CHECK_INT(orr_storage_get_file(st, "../../etc/passwd", "x", &e),
              ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "../../etc/passwd");
    CHECK_INT(orr_storage_remove(st, d, &e), ORR_OK);
    CHECK_INT(orr_storage_get_file(st, d, "copy2.bin", &e), ORR_ENOTFOUND);
    close_core(core);
}

TEST_MAIN({"conformance_through_core", test_conformance_through_core},
          {"wrappers_on_site_instance", test_wrappers_on_site_instance})
