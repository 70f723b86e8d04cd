/*
 * cli/cmd_version.c - `orrery version`: what this binary is.
 *
 * Deliberately touches no site, plugin or database: it is the start-up
 * benchmark's command and must stay a few milliseconds.
 */
#include <jansson.h>
#include <lua.h>
#include <sqlite3.h>
#include <string.h>

#include <orrery/plugin.h>

#include "build_info.h"
#include "cli/cli.h"

static void help(void)
{
    printf("Usage: orrery version [--json]\n"
           "\n"
           "Print the versions of orrery, its plugin ABI and the libraries\n"
           "it was built with.\n"
           "\n"
           "  --json   one JSON object\n");
}

int orr_cmd_version(int argc, char **argv, const struct orr_cli_globals *g)
{
    (void)g;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else {
            return orr_cli_usage_error("version", "unexpected argument '%s'",
                                       argv[i]);
        }
    }
    if (json) {
        json_t *o = json_pack("{s:s, s:{s:i, s:i}, s:s, s:s, s:s}",
                              "orrery", ORR_VERSION,
                              "abi", "major", ORR_ABI_MAJOR,
                              "minor", ORR_ABI_MINOR,
                              "lua", LUA_RELEASE,
                              "sqlite", sqlite3_libversion(),
                              "jansson", jansson_version_str());
        return orr_cli_print_json(o);
    }
    printf("orrery %s (plugin ABI %d.%d; %s, SQLite %s, jansson %s)\n",
           ORR_VERSION, ORR_ABI_MAJOR, ORR_ABI_MINOR, LUA_RELEASE,
           sqlite3_libversion(), jansson_version_str());
    return ORR_EXIT_OK;
}
