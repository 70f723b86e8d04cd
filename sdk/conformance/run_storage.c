/*
 * run_storage.c - `orrery-conformance-storage`: run the storage
 * conformance suite on a plugin file, without the core.
 *
 *     orrery-conformance-storage [options] PLUGIN.so [key=value ...]
 *
 * The key=value pairs are the backend's configuration (what a site file
 * would put in its storage section, e.g. root=/tmp/scratch-store).
 * Options:
 *     --backend NAME     the storage backend to test (default: the first
 *                        the plugin registers)
 *     --blob-file FMT    where a blob's bytes live, for the corruption
 *                        checks: {d} is replaced by the digest and {d2}
 *                        by its first two digits, e.g.
 *                        /tmp/store/sha256/{d2}/{d}
 *     --only TEXT        run only checks whose name contains TEXT
 *     --threads N        threads for the concurrency check (default 4)
 *     --verbose          show the plugin's debug log
 * Exit status: 0 all checks passed, 1 a check failed, 2 bad usage or the
 * plugin could not be loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <orrery/conformance/storage.h>
#include <orrery/conformance/test_host.h>

static int usage(void)
{
    fprintf(stderr,
            "usage: orrery-conformance-storage [--backend NAME] "
            "[--blob-file FMT] [--only TEXT]\n"
            "       [--threads N] [--verbose] PLUGIN.so [key=value ...]\n");
    return 2;
}

/* Expand {d} and {d2} in `fmt`. */
static int expand(const char *fmt, const char *digest, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = fmt; *p;) {
        const char *add;
        size_t n;
        if (!strncmp(p, "{d2}", 4)) {
            add = digest;
            n = 2;
            p += 4;
        } else if (!strncmp(p, "{d}", 3)) {
            add = digest;
            n = strlen(digest);
            p += 3;
        } else {
            add = p++;
            n = 1;
        }
        if (o + n >= cap)
            return -1;
        memcpy(out + o, add, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}

/* Flip one byte in the middle of the blob's file. */
static int corrupt_file(void *ctx, const char *digest)
{
    char path[4096];
    struct stat st;
    unsigned char b;
    if (expand(ctx, digest, path, sizeof path) || stat(path, &st) != 0)
        return -1;
    (void)chmod(path, st.st_mode | S_IWUSR);
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return -1;
    off_t at = st.st_size / 2;
    int rc = (st.st_size > 0 && pread(fd, &b, 1, at) == 1 &&
              (b ^= 0x01, pwrite(fd, &b, 1, at) == 1)) ? 0 : -1;
    close(fd);
    (void)chmod(path, st.st_mode);
    return rc;
}

int main(int argc, char **argv)
{
    const char *backend = NULL, *plugin = NULL;
    struct orr_conformance_storage_opts opt = {0};
    struct orr_cfg *cfg = orr_test_cfg_new();
    int i = 1, verbose = 0;
    if (!cfg)
        return 2;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--verbose")) {
            verbose = 1;
            continue;
        }
        if (i + 1 >= argc) {
            orr_test_cfg_free(cfg);
            return usage();
        }
        if (!strcmp(a, "--backend")) {
            backend = argv[++i];
        } else if (!strcmp(a, "--blob-file")) {
            opt.corrupt = corrupt_file;
            opt.corrupt_ctx = argv[++i];
        } else if (!strcmp(a, "--only")) {
            opt.only = argv[++i];
        } else if (!strcmp(a, "--threads")) {
            opt.threads = (unsigned)strtoul(argv[++i], NULL, 10);
        } else {
            orr_test_cfg_free(cfg);
            return usage();
        }
    }
    if (i >= argc) {
        orr_test_cfg_free(cfg);
        return usage();
    }
    plugin = argv[i++];
    for (; i < argc; i++) {
        if (orr_test_cfg_parse(cfg, argv[i]) != ORR_OK) {
            fprintf(stderr, "orrery-conformance-storage: bad setting '%s' "
                    "(expected key=value)\n", argv[i]);
            orr_test_cfg_free(cfg);
            return 2;
        }
    }
    orr_test_host_set_log(stderr, verbose ? ORR_LOG_DEBUG : ORR_LOG_WARN);
    struct orr_test_plugin *p = NULL;
    struct orr_error e = {0};
    if (orr_test_plugin_load(plugin, &p, &e) != ORR_OK) {
        fprintf(stderr, "orrery-conformance-storage: %s\n", e.msg);
        orr_test_cfg_free(cfg);
        return 2;
    }
    const struct orr_storage_ops *ops = orr_test_plugin_storage(p, backend);
    int rc;
    if (!ops) {
        fprintf(stderr, "orrery-conformance-storage: %s registers no "
                "storage backend%s%s\n", plugin, backend ? " named " : "",
                backend ? backend : "");
        rc = 2;
    } else {
        rc = orr_conformance_storage_ex(orr_test_host(), ops, cfg, &opt,
                                        stdout) ? 1 : 0;
    }
    orr_test_plugin_unload(p);
    orr_test_cfg_free(cfg);
    return rc;
}
