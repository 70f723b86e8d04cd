/*
 * bench_storage_driver.c - one storage operation on one file, for
 * bench_storage.sh.  Loads a storage plugin with the SDK's test host (no
 * core, so the figures are the plugin's alone).
 *
 *     bench_storage_driver PLUGIN.so ROOT put FILE [key=value ...]
 *     bench_storage_driver PLUGIN.so ROOT get DIGEST OUT [key=value ...]
 *
 * put prints the digest.  put/get use the backend's file fast paths;
 * put-stream/get-stream go through the streaming callbacks instead (what
 * the core does for a backend without fast paths).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <orrery/conformance/test_host.h>

static int64_t read_fd(void *ctx, void *buf, size_t cap, struct orr_error *e)
{
    ssize_t n = read(*(int *)ctx, buf, cap);
    if (n < 0) {
        orr_test_host()->fail(e, ORR_EIO, "read: %s", strerror(errno));
        return -1;
    }
    return n;
}

static int write_fd(void *ctx, const void *buf, size_t len,
                    struct orr_error *e)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(*(int *)ctx, p, len);
        if (n < 0)
            return orr_test_host()->fail(e, ORR_EIO, "write: %s",
                                         strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    return ORR_OK;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s PLUGIN.so ROOT put|put-stream FILE | "
                "get|get-stream DIGEST OUT [key=value ...]\n", argv[0]);
        return 2;
    }
    const char *op = argv[3];
    int is_get = !strncmp(op, "get", 3), stream = strstr(op, "stream") != 0;
    int first_cfg = is_get ? 6 : 5;
    if (is_get && argc < 6)
        return 2;
    struct orr_test_plugin *p = NULL;
    struct orr_error e = {0};
    struct orr_cfg *cfg = orr_test_cfg_new();
    const struct orr_host *h = orr_test_host();
    const struct orr_storage_ops *ops = NULL;
    void *self = NULL;
    int rc = 1;
    orr_test_cfg_set(cfg, "root", argv[2]);
    for (int i = first_cfg; i < argc; i++)
        orr_test_cfg_parse(cfg, argv[i]);
    if (orr_test_plugin_load(argv[1], &p, &e))
        goto out;
    ops = orr_test_plugin_storage(p, NULL);
    if (!ops || orr_test_storage_open(h, ops, cfg, &self, &e))
        goto out;
    char d[ORR_DIGEST_HEX_LEN + 1];
    if (!is_get && !stream) {
        rc = ops->put_file(self, argv[4], d, &e);
    } else if (!is_get) {
        int fd = open(argv[4], O_RDONLY);
        rc = fd < 0 ? h->fail(&e, ORR_EIO, "open %s", argv[4])
                    : ops->put(self, read_fd, &fd, -1, d, &e);
        if (fd >= 0)
            close(fd);
    } else if (!stream) {
        rc = ops->get_file(self, argv[4], argv[5], &e);
    } else {
        int fd = open(argv[5], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        rc = fd < 0 ? h->fail(&e, ORR_EIO, "open %s", argv[5])
                    : ops->get(self, argv[4], write_fd, &fd, &e);
        if (fd >= 0 && (fsync(fd) != 0 || close(fd) != 0) && !rc)
            rc = h->fail(&e, ORR_EIO, "close %s", argv[5]);
    }
    if (!rc && !is_get)
        printf("%s\n", d);
out:
    if (rc)
        fprintf(stderr, "bench_storage_driver: %s\n", e.msg);
    if (self)
        orr_test_storage_close(h, ops, self);
    orr_test_plugin_unload(p);
    orr_test_cfg_free(cfg);
    return rc ? 1 : 0;
}
