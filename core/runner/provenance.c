/*
 * runner/provenance.c - where a run's code came from: the git commit of
 * the workflow's repository and whether its tracked files had uncommitted
 * changes, and the versions of orrery and of the plugins the run loaded.
 *
 * git is asked only when a .git is found above the workflow, so runs
 * outside a repository pay nothing.  The child gets an argv (never a
 * shell), so no path can inject a command.
 */
#include "runner/provenance.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build_info.h"
#include "plugin/registry.h"
#include "util/buf.h"

extern char **environ;

/* 1 if `dir` or one of its parents holds a .git (directory or file). */
static int inside_git_repo(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return 0;
    for (;;) {
        char probe[PATH_MAX + 8];
        struct stat st;
        snprintf(probe, sizeof probe, "%s/.git", path);
        if (stat(probe, &st) == 0)
            return 1;
        char *slash = strrchr(path, '/');
        if (!slash || slash == path)
            return 0;
        *slash = '\0';
    }
}

/* Run argv, capture at most cap-1 bytes of stdout; stderr is discarded.
 * Returns the exit status, or -1 if it could not run. */
static int capture(char *const argv[], char *out, size_t cap)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    posix_spawn_file_actions_addclose(&fa, fd[1]);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null",
                                     O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    size_t n = 0;
    if (rc == 0) {
        for (;;) {
            char buf[4096];
            ssize_t got = read(fd[0], buf, sizeof buf);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break;
            size_t take = (size_t)got;
            if (take > cap - 1 - n)
                take = cap - 1 - n;
            memcpy(out + n, buf, take);
            n += take;
        }
    }
    close(fd[0]);
    out[n] = '\0';
    if (rc != 0)
        return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int orri_git_info(const char *dir, char commit[41], int *dirty)
{
    commit[0] = '\0';
    *dirty = 0;
    if (!inside_git_repo(dir))
        return 0;
    char out[4096];
    char *head[] = {"git", "-C", (char *)dir, "rev-parse", "--verify",
                    "--quiet", "HEAD", NULL};
    if (capture(head, out, sizeof out) != 0 ||
        strspn(out, "0123456789abcdef") != 40)
        return 0;
    memcpy(commit, out, 40);
    commit[40] = '\0';
    /* Tracked files only: an untracked scratch file is not a change to
     * the code that ran. */
    char *status[] = {"git", "-C", (char *)dir, "status", "--porcelain",
                      "--untracked-files=no", NULL};
    if (capture(status, out, sizeof out) == 0)
        *dirty = out[0] != '\0';
    return 1;
}

char *orri_plugin_versions(struct orr_registry *r)
{
    struct orr_buf b = ORR_BUF_INIT;
    size_t n = orr_registry_plugin_count(r);
    for (size_t i = 0; i < n; i++) {
        const struct orr_plugin_info *p = orr_registry_plugin_at(r, i);
        if (orri_buf_printf(&b, "%s%s %s", i ? ", " : "", p->name,
                            p->version)) {
            orri_buf_free(&b);
            return NULL;
        }
    }
    return orri_buf_take(&b);
}

const char *orri_orrery_version(void)
{
    return ORR_VERSION;
}
