/*
 * cli/common.c - what the commands share: error printing, JSON output,
 * byte counts.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int orr_cli_fail(const char *cmd, const struct orr_error *e)
{
    fprintf(stderr, "orrery %s: %s\n", cmd,
            e && e->msg[0] ? e->msg : orr_strerror(e ? e->code : 0));
    return ORR_EXIT_FAIL;
}

int orr_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "orrery %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'orrery %s --help'.\n", cmd);
    return ORR_EXIT_USAGE;
}

int orr_cli_is_help(const char *arg)
{
    return arg && (!strcmp(arg, "-h") || !strcmp(arg, "--help"));
}

const char *orr_cli_bytes(char *buf, size_t cap, uint64_t n)
{
    if (n < 1024)
        snprintf(buf, cap, "%llu B", (unsigned long long)n);
    else if (n < 1024 * 1024)
        snprintf(buf, cap, "%.1f KiB", (double)n / 1024.0);
    else if (n < 1024ull * 1024 * 1024)
        snprintf(buf, cap, "%.1f MiB", (double)n / (1024.0 * 1024.0));
    else
        snprintf(buf, cap, "%.2f GiB", (double)n / (1024.0 * 1024 * 1024));
    return buf;
}

int orr_cli_print_json(struct json_t *doc)
{
    if (!doc)
        return ORR_EXIT_FAIL;
    int rc = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    json_decref(doc);
    fputc('\n', stdout);
    return rc == 0 && !ferror(stdout) ? ORR_EXIT_OK : ORR_EXIT_FAIL;
}
