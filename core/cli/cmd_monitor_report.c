/*
 * cli/cmd_monitor_report.c - `orrery monitor report MODEL`: the latest
 * monitoring window as a terminal table, the last windows as a
 * self-contained HTML page, or everything as JSON (core/monitor/report.h).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core.h"
#include "monitor/report.h"
#include "util/error.h"
#include "util/path.h"

#define CMD "monitor report"

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: orrery monitor report MODEL [--out FILE.html] [--json]"
        " [--last N]\n"
        "                             [--no-html]\n"
        "\n"
        "Shows what 'orrery monitor run MODEL' stored: the latest window's\n"
        "drift per feature, dataset drift share, model quality against the\n"
        "values at registration and the open alerts, and writes an HTML\n"
        "report (charts of the distributions, drift and quality over the\n"
        "last N windows) that needs nothing but a browser.\n"
        "\n"
        "Options:\n"
        "  --out FILE   write the HTML report there (default:\n"
        "               <site root>/reports/MODEL.html, e.g.\n"
        "               .orrery/reports/MODEL.html)\n"
        "  --last N     windows shown over time (default %d, at most %d)\n"
        "  --json       print the report as one JSON document instead of"
        " the\n"
        "               table; the HTML is written only with --out\n"
        "  --no-html    print the table only\n"
        "\n"
        "Colour only on a terminal, and never when NO_COLOR is set.\n"
        "Exit status: 0 success, 1 failure (no monitoring window yet, store\n"
        "or file error), 2 bad usage.\n",
        ORRI_REPORT_DEFAULT_LAST, ORRI_REPORT_MAX_LAST);
}

/* The default report file: <site dir>/reports/<model>.html, the name
 * reduced to [A-Za-z0-9_.-] so it stays one file name in that folder. */
static int default_path(char *out, size_t cap, const char *site_dir,
                        const char *model, struct orr_error *e)
{
    char name[160];
    size_t n = 0;
    for (const char *p = model; *p && n + 1 < sizeof name - 5; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                 (c == '.' && n > 0);
        name[n++] = ok ? c : '_';
    }
    name[n] = '\0';
    if (n == 0)
        snprintf(name, sizeof name, "report");
    if ((size_t)snprintf(out, cap, "%s/reports/%s.html", site_dir, name) >=
        cap)
        return orr_fail(e, ORR_EINVAL, "site path too long");
    return ORR_OK;
}

/* file:// URL of an absolute path, bytes outside the URL-safe set
 * percent-encoded. */
static void file_url(char *out, size_t cap, const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = (size_t)snprintf(out, cap, "file://");
    for (const unsigned char *p = (const unsigned char *)path;
         *p && n + 4 < cap; p++) {
        int safe = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || strchr("/-_.~", *p);
        if (safe) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n < cap ? n : cap - 1] = '\0';
}

/* `path` as one shell word (single-quoted when it needs to be). */
static void shell_word(FILE *f, const char *path)
{
    if (!path[strspn(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
                     "TUVWXYZ0123456789/-_.+,:@%")]) {
        fputs(path, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = path; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", f);
        else
            fputc(*p, f);
    }
    fputc('\'', f);
}

int orri_cmd_monitor_report(int argc, char **argv,
                            const struct orr_cli_globals *g)
{
    const char *model = NULL, *out = NULL;
    int json = 0, no_html = 0, last = ORRI_REPORT_DEFAULT_LAST;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (orr_cli_is_help(a)) {
            usage(stdout);
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--no-html")) {
            no_html = 1;
        } else if (!strcmp(a, "--out") || !strcmp(a, "--last")) {
            if (i + 1 >= argc)
                return orr_cli_usage_error(CMD, "%s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--out")) {
                if (!*v)
                    return orr_cli_usage_error(CMD, "--out needs a file");
                out = v;
                continue;
            }
            char *end;
            errno = 0;
            long n = strtol(v, &end, 10);
            if (errno || end == v || *end || n < 1 ||
                n > ORRI_REPORT_MAX_LAST)
                return orr_cli_usage_error(CMD, "--last takes a number of"
                                           " windows from 1 to %d, not"
                                           " '%s'", ORRI_REPORT_MAX_LAST,
                                           v);
            last = (int)n;
        } else if (a[0] == '-' && a[1]) {
            return orr_cli_usage_error(CMD, "unknown option '%s'", a);
        } else if (!model) {
            model = a;
        } else {
            return orr_cli_usage_error(CMD, "one model only (got '%s' and"
                                       " '%s')", model, a);
        }
    }
    if (!model)
        return orr_cli_usage_error(CMD, "which model? (orrery monitor"
                                   " report MODEL)");
    if (no_html && out)
        return orr_cli_usage_error(CMD, "--no-html and --out exclude each"
                                   " other");

    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orri_report *r = NULL;
    char *html = NULL;
    char path[4096];
    int code = ORR_EXIT_FAIL;
    struct orr_core_options copt = {.site_path = g->site_path};
    int rc = orr_core_open(&core, &copt, &e);
    if (!rc)
        rc = orri_report_load(orr_core_site(core)->db_path, model, last, &r,
                              &e);
    if (rc) {
        orr_cli_fail(CMD, &e);
        goto done;
    }
    int want_html = !no_html && (!json || out);
    if (want_html) {
        rc = out ? orri_path_absolute(path, sizeof path, out, &e)
                 : default_path(path, sizeof path,
                                orr_core_site(core)->dir, r->model, &e);
        if (!rc)
            rc = orri_report_html(r, &html, &e);
        if (!rc)
            rc = orri_report_write_file(path, html, strlen(html), &e);
        if (rc) {
            orr_cli_fail(CMD, &e);
            goto done;
        }
    }
    if (json) {
        code = orr_cli_print_json(orri_report_json(r));
        if (want_html)
            fprintf(stderr, "orrery monitor report: wrote %s\n", path);
        goto done;
    }
    int color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    if (orri_report_text(r, stdout, color)) {
        fprintf(stderr, "orrery monitor report: cannot write the table\n");
        goto done;
    }
    if (want_html) {
        char url[8192];
        file_url(url, sizeof url, path);
        printf("\nReport: %s\nOpen it: xdg-open ", path);
        shell_word(stdout, path);
        printf("\n     or: %s in a browser\n", url);
    }
    code = fflush(stdout) == 0 ? ORR_EXIT_OK : ORR_EXIT_FAIL;
done:
    free(html);
    orri_report_free(r);
    orr_core_close(core);
    return code;
}
