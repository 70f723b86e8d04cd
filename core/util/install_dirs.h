/*
 * util/install_dirs.h - where this binary's plugins and private modules
 * are: the build tree when it runs from there, else beside the binary's
 * install prefix (so a relocated install works), else the configured
 * install directory.
 */
#ifndef ORRI_UTIL_INSTALL_DIRS_H
#define ORRI_UTIL_INSTALL_DIRS_H

#include <stddef.h>

enum orri_dir_kind { ORRI_DIR_PLUGINS, ORRI_DIR_LIBEXEC };

/* 1 if the running executable lives in the build tree it was built in. */
int orri_running_from_build_tree(void);

/* Write the directory of `kind` into `out`; returns `out`. */
const char *orri_install_dir(enum orri_dir_kind kind, char *out, size_t cap);

#endif
