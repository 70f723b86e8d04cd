/*
 * runner/provenance.h - what a run records about the code that ran.
 */
#ifndef ORRI_RUNNER_PROVENANCE_H
#define ORRI_RUNNER_PROVENANCE_H

struct orr_registry;

/* If `dir` is inside a git work tree: write HEAD's commit (40 hex) and
 * whether tracked files differ from it, and return 1.  Otherwise return
 * 0 with commit "" (also when git is missing). */
int orri_git_info(const char *dir, char commit[41], int *dirty);

/* "name version, name version" of every plugin loaded so far, malloc'ed
 * (caller frees), or NULL on ENOMEM. */
char *orri_plugin_versions(struct orr_registry *r);

/* This binary's version. */
const char *orri_orrery_version(void);

#endif
