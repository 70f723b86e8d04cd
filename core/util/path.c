/*
 * util/path.c - paths.
 */
#include "util/path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

int orri_path_join(char *out, size_t cap, const char *a, const char *b,
                   struct orr_error *e)
{
    int n;
    if (b[0] == '/' || !a || !a[0])
        n = snprintf(out, cap, "%s", b);
    else if (a[strlen(a) - 1] == '/')
        n = snprintf(out, cap, "%s%s", a, b);
    else
        n = snprintf(out, cap, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= cap)
        return orr_fail(e, ORR_EINVAL, "path too long: %s/%s", a ? a : "", b);
    return ORR_OK;
}

int orri_path_dirname(char *out, size_t cap, const char *path,
                      struct orr_error *e)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return orri_path_join(out, cap, NULL, ".", e);
    size_t len = (size_t)(slash - path);
    while (len > 0 && path[len - 1] == '/')
        len--;
    if (len == 0)
        len = 1;    /* "/x" -> "/" */
    if (len >= cap)
        return orr_fail(e, ORR_EINVAL, "path too long: %s", path);
    memcpy(out, path, len);
    out[len] = '\0';
    return ORR_OK;
}

int orri_path_absolute(char *out, size_t cap, const char *path,
                       struct orr_error *e)
{
    char tmp[4096];
    if (path[0] == '/') {
        if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
            return orr_fail(e, ORR_EINVAL, "path too long: %s", path);
    } else {
        char cwd[4096];
        if (!getcwd(cwd, sizeof cwd))
            return orr_fail(e, ORR_EIO, "getcwd: %s", strerror(errno));
        if (orri_path_join(tmp, sizeof tmp, cwd, path, e))
            return e ? e->code : ORR_EINVAL;
    }
    /* Lexical normalisation into `out`, component by component. */
    size_t n = 0;
    const char *p = tmp;
    if (cap < 2)
        return orr_fail(e, ORR_EINVAL, "path buffer too small");
    out[n++] = '/';
    while (*p) {
        while (*p == '/')
            p++;
        const char *end = p;
        while (*end && *end != '/')
            end++;
        size_t len = (size_t)(end - p);
        if (len == 0 || (len == 1 && p[0] == '.')) {
            /* skip */
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            if (n > 1) {
                n--;                        /* drop trailing '/'          */
                while (n > 1 && out[n - 1] != '/')
                    n--;
            }
        } else {
            if (n + len + 2 > cap)
                return orr_fail(e, ORR_EINVAL, "path too long: %s", path);
            memcpy(out + n, p, len);
            n += len;
            out[n++] = '/';
        }
        p = end;
    }
    if (n > 1)
        n--;                                /* no trailing '/'            */
    out[n] = '\0';
    return ORR_OK;
}

int orri_path_is_safe_relative(const char *rel)
{
    if (!rel || !rel[0] || rel[0] == '/')
        return 0;
    const char *p = rel;
    while (*p) {
        const char *end = p;
        while (*end && *end != '/') {
            if ((unsigned char)*end < 0x20 || *end == 0x7f)
                return 0;
            end++;
        }
        size_t len = (size_t)(end - p);
        if (len == 0)
            return 0;
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        if (len == 1 && p[0] == '.')
            return 0;
        p = *end ? end + 1 : end;
        if (*end && !*p)
            return 0;                       /* trailing slash             */
    }
    return 1;
}

int orri_mkdir_p(const char *path, struct orr_error *e)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof tmp)
        return orr_fail(e, ORR_EINVAL, "bad directory path '%s'", path);
    memcpy(tmp, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char saved = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return orr_fail(e, errno == EACCES ? ORR_EPERM : ORR_EIO,
                            "cannot create directory %s: %s", tmp,
                            strerror(errno));
        tmp[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return orr_fail(e, ORR_EIO, "%s exists and is not a directory", path);
    return ORR_OK;
}

int orri_path_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}
