/*
 * cli/cmd_plugins.c - `orrery plugins`: what loaded from where, what each
 * plugin provides, and why anything was refused.
 *
 * A report, not an operation: refusals do not change the exit status
 * (only failing to open the core does), so scripts can always parse it.
 */
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core.h"

static void help(void)
{
    printf("Usage: orrery plugins [--json]\n"
           "\n"
           "Load every plugin on the search path and list each one with the\n"
           "backends it provides, then every file that was refused and why.\n"
           "\n"
           "The search path is, in order: the site's plugin_path,\n"
           "$ORRERY_PLUGIN_PATH (colon-separated), the build tree's plugins/\n"
           "when orrery runs from its build tree, and the install directory.\n"
           "\n"
           "  --json   one JSON object: search_path, plugins, refused\n"
           "\n"
           "Exit status: 0 (even when files were refused), 1 if the site\n"
           "configuration cannot be loaded, 2 on bad usage.\n");
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static json_t *backends_json(const struct orr_registry *r,
                             const struct orr_plugin_info *p)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < orr_registry_backend_count(r); i++) {
        const struct orr_backend *b = orr_registry_backend_at(r, i);
        if (b->plugin != p)
            continue;
        json_t *o = json_pack("{s:s, s:s, s:s}", "kind",
                              orr_kind_name(b->kind), "name", b->name,
                              "summary", b->summary);
        if (o && b->kind == ORR_KIND_TRAINER && b->ops.trainer.flavor)
            json_object_set_new(o, "flavor",
                                json_string(b->ops.trainer.flavor));
        json_array_append_new(a, o);
    }
    return a;
}

static int print_json(const struct orr_registry *r)
{
    json_t *doc = json_object();
    json_t *dirs = json_array(), *plugins = json_array(),
           *refused = json_array();
    json_object_set_new(doc, "search_path", dirs);
    json_object_set_new(doc, "plugins", plugins);
    json_object_set_new(doc, "refused", refused);
    for (size_t i = 0; i < orr_registry_dir_count(r); i++)
        json_array_append_new(dirs, json_string(orr_registry_dir_at(r, i)));
    for (size_t i = 0; i < orr_registry_plugin_count(r); i++) {
        const struct orr_plugin_info *p = orr_registry_plugin_at(r, i);
        char abi[32];
        snprintf(abi, sizeof abi, "%u.%u", p->abi_major, p->abi_minor);
        json_array_append_new(
            plugins,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "name", p->name,
                      "version", p->version, "license", p->license, "path",
                      p->path, "summary", p->summary, "abi", abi, "backends",
                      backends_json(r, p)));
    }
    for (size_t i = 0; i < orr_registry_refusal_count(r); i++) {
        const struct orr_refusal *f = orr_registry_refusal_at(r, i);
        json_array_append_new(
            refused, json_pack("{s:s, s:i, s:s, s:s}", "path", f->path,
                               "code", f->code, "status",
                               orr_strerror(f->code), "reason", f->reason));
    }
    return orr_cli_print_json(doc);
}

static void print_text(const struct orr_registry *r)
{
    printf("Search path:\n");
    if (!orr_registry_dir_count(r))
        printf("  (empty)\n");
    for (size_t i = 0; i < orr_registry_dir_count(r); i++) {
        const char *d = orr_registry_dir_at(r, i);
        printf("  %s%s\n", d, is_dir(d) ? "" : "  (missing)");
    }
    printf("\nPlugins:\n");
    if (!orr_registry_plugin_count(r))
        printf("  (none)\n");
    for (size_t i = 0; i < orr_registry_plugin_count(r); i++) {
        const struct orr_plugin_info *p = orr_registry_plugin_at(r, i);
        printf("  %s %s (%s, ABI %u.%u)\n    %s\n    %s\n", p->name,
               p->version, p->license, p->abi_major, p->abi_minor,
               p->summary, p->path);
        for (size_t k = 0; k < orr_registry_backend_count(r); k++) {
            const struct orr_backend *b = orr_registry_backend_at(r, k);
            if (b->plugin != p)
                continue;
            char label[128];
            snprintf(label, sizeof label, "%s/%s", orr_kind_name(b->kind),
                     b->name);
            printf("      %-22s %s\n", label, b->summary);
        }
    }
    if (orr_registry_refusal_count(r)) {
        printf("\nRefused:\n");
        for (size_t i = 0; i < orr_registry_refusal_count(r); i++) {
            const struct orr_refusal *f = orr_registry_refusal_at(r, i);
            printf("  %s\n    %s (%s)\n", f->path, f->reason,
                   orr_strerror(f->code));
        }
    }
}

int orr_cmd_plugins(int argc, char **argv, const struct orr_cli_globals *g)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else {
            return orr_cli_usage_error("plugins", "unexpected argument '%s'",
                                       argv[i]);
        }
    }
    struct orr_core_options opt = {.site_path = g->site_path};
    struct orr_core *core;
    struct orr_error e = {0};
    if (orr_core_open(&core, &opt, &e))
        return orr_cli_fail("plugins", &e);
    struct orr_registry *r = orr_core_registry(core);
    orr_registry_load_all(r);
    int rc = ORR_EXIT_OK;
    if (json)
        rc = print_json(r);
    else
        print_text(r);
    orr_core_close(core);
    return rc;
}
