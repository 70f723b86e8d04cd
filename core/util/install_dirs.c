/*
 * util/install_dirs.c - locating the binary's own plugins and modules.
 */
#include "util/install_dirs.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build_info.h"

static int exe_path(char *out, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    if (n <= 0)
        return 0;
    out[n] = '\0';
    return 1;
}

int orri_running_from_build_tree(void)
{
    char exe[PATH_MAX];
    if (!exe_path(exe, sizeof exe))
        return 0;
    size_t len = strlen(ORR_BUILD_DIR);
    return !strncmp(exe, ORR_BUILD_DIR, len) && exe[len] == '/';
}

/* <prefix>/<rel> when the executable is <prefix>/<bindir>/orrery and that
 * directory exists; 0 otherwise. */
static int prefix_relative(const char *rel, char *out, size_t cap)
{
    char exe[PATH_MAX];
    if (!exe_path(exe, sizeof exe))
        return 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return 0;
    *slash = '\0';                           /* exe = <prefix>/<bindir> */
    size_t blen = strlen(ORR_INSTALL_BINDIR_REL), elen = strlen(exe);
    if (elen <= blen || exe[elen - blen - 1] != '/' ||
        strcmp(exe + elen - blen, ORR_INSTALL_BINDIR_REL))
        return 0;
    exe[elen - blen - 1] = '\0';             /* exe = <prefix>          */
    int n = snprintf(out, cap, "%s/%s", exe, rel);
    struct stat st;
    return n > 0 && (size_t)n < cap && stat(out, &st) == 0 &&
           S_ISDIR(st.st_mode);
}

const char *orri_install_dir(enum orri_dir_kind kind, char *out, size_t cap)
{
    int plugins = kind == ORRI_DIR_PLUGINS;
    if (orri_running_from_build_tree())
        snprintf(out, cap, "%s",
                 plugins ? ORR_BUILD_PLUGIN_DIR : ORR_BUILD_LIBEXEC_DIR);
    else if (!prefix_relative(plugins ? ORR_INSTALL_PLUGIN_DIR_REL
                                      : ORR_INSTALL_LIBEXEC_DIR_REL,
                              out, cap))
        snprintf(out, cap, "%s",
                 plugins ? ORR_INSTALL_PLUGIN_DIR : ORR_INSTALL_LIBEXEC_DIR);
    return out;
}
