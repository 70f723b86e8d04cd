/*
 * cli/common.c - error printing and JSON output shared by the commands.
 */
#include <jansson.h>
#include <stdarg.h>
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

int orr_cli_print_json(struct json_t *doc)
{
    if (!doc)
        return ORR_EXIT_FAIL;
    int rc = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    json_decref(doc);
    fputc('\n', stdout);
    return rc == 0 && !ferror(stdout) ? ORR_EXIT_OK : ORR_EXIT_FAIL;
}
