/*
 * cli/cmd_lineage.c - `orrery lineage TARGET [--up|--down] [--depth N]
 * [--json|--dot]`: the lineage graph as a text tree, JSON or Graphviz.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_registry.h"
#include "core.h"
#include "meta/lineage.h"

#define CMD "lineage"

static void help(void)
{
    printf(
        "Usage: orrery lineage TARGET [--up|--down] [--depth N] "
        "[--json|--dot]\n"
        "\n"
        "What produced TARGET (--up: data, code and params) and what used\n"
        "it (--down: steps, runs, models); both by default.  TARGET is an\n"
        "artifact digest or a unique prefix (4+ hex digits), a run id or\n"
        "prefix, a model URI (models:/NAME/3, models:/NAME@champion,\n"
        "models:/NAME), a model name, or artifact:..., run:..., step:N.\n"
        "\n"
        "  --up, --down  one direction only\n"
        "  --depth N     follow at most N edges (default %d)\n"
        "  --json        nodes and edges as one JSON document\n"
        "  --dot         a Graphviz digraph (orrery lineage X --dot | dot "
        "-Tsvg)\n"
        "  -h, --help    show this help\n"
        "\n"
        "Exit status: 0 success, 1 not found or failed, 2 bad usage.\n",
        ORR_LINEAGE_DEPTH_DEFAULT);
}

static const char *human_size(char *buf, size_t cap, uint64_t n)
{
    if (n < 1024)
        snprintf(buf, cap, "%llu B", (unsigned long long)n);
    else if (n < 1024 * 1024)
        snprintf(buf, cap, "%.1f KiB", (double)n / 1024.0);
    else
        snprintf(buf, cap, "%.1f MiB", (double)n / (1024.0 * 1024.0));
    return buf;
}

static void label(const struct orr_lineage_node *n, char *buf, size_t cap)
{
    char sz[32];
    switch (n->kind) {
    case ORR_LINEAGE_ARTIFACT:
        snprintf(buf, cap, "%s %s (%.12s, %s)", n->detail ? n->detail : "?",
                 n->name ? n->name : "-", n->ref ? n->ref : "",
                 human_size(sz, sizeof sz, n->size));
        break;
    case ORR_LINEAGE_STEP:
        snprintf(buf, cap, "step %s [%s] of run %.12s (%s)",
                 n->name ? n->name : "?", n->detail ? n->detail : "?",
                 n->ref ? n->ref : "", n->extra ? n->extra : "?");
        break;
    case ORR_LINEAGE_RUN:
        snprintf(buf, cap, "run %.12s of %s [%s] params %s",
                 n->ref ? n->ref : "", n->name ? n->name : "?",
                 n->detail ? n->detail : "?",
                 n->extra ? n->extra : "{}");
        break;
    case ORR_LINEAGE_MODEL:
        snprintf(buf, cap, "model models:/%s/%lld%s%s",
                 n->name ? n->name : "?", (long long)n->version,
                 n->detail ? " flavor " : "", n->detail ? n->detail : "");
        break;
    }
}

/* ---- text tree --------------------------------------------------------- */

static void tree(const struct orr_lineage_graph *g, size_t at, int up,
                 int indent, unsigned char *seen, const char *via)
{
    char buf[1024];
    label(&g->nodes[at], buf, sizeof buf);
    printf("%*s%s%s%s%s\n", indent * 2, "", via ? via : "",
           via ? ": " : "", buf, seen[at] ? "  (see above)" : "");
    if (seen[at])
        return;
    seen[at] = 1;
    for (size_t i = 0; i < g->n_edges; i++) {
        const struct orr_lineage_edge *ed = &g->edges[i];
        size_t next = up ? ed->from : ed->to;
        if ((up ? ed->to : ed->from) != at)
            continue;
        /* Only edges found by this walk: a node found going up is not
         * listed as a consumer going down, and vice versa. */
        if (next != g->root &&
            !(g->nodes[next].dir & (up ? ORR_LINEAGE_UP : ORR_LINEAGE_DOWN)))
            continue;
        tree(g, next, up, indent + 1, seen, ed->label);
    }
}

static void print_tree(const struct orr_lineage_graph *g, int dirs)
{
    unsigned char *seen = calloc(g->n_nodes ? g->n_nodes : 1, 1);
    if (!seen)
        return;
    if (dirs & ORR_LINEAGE_UP) {
        printf("upstream (what produced it):\n");
        tree(g, g->root, 1, 1, seen, NULL);
    }
    if (dirs & ORR_LINEAGE_DOWN) {
        memset(seen, 0, g->n_nodes ? g->n_nodes : 1);
        printf("%sdownstream (what used it):\n",
               dirs & ORR_LINEAGE_UP ? "\n" : "");
        tree(g, g->root, 0, 1, seen, NULL);
    }
    free(seen);
}

/* ---- JSON and dot ------------------------------------------------------ */

static json_t *graph_json(const struct orr_lineage_graph *g, int dirs)
{
    json_t *nodes = json_array(), *edges = json_array();
    for (size_t i = 0; i < g->n_nodes; i++) {
        const struct orr_lineage_node *n = &g->nodes[i];
        char buf[1024];
        label(n, buf, sizeof buf);
        json_t *o = json_pack("{s:s, s:s, s:i, s:s}", "id", n->id, "kind",
                              orr_lineage_kind_name(n->kind), "depth",
                              n->depth, "label", buf);
        if (n->name)
            json_object_set_new(o, "name", json_string(n->name));
        switch (n->kind) {
        case ORR_LINEAGE_ARTIFACT:
            json_object_set_new(o, "digest", json_string(n->ref));
            json_object_set_new(o, "artifact_kind", json_string(n->detail));
            json_object_set_new(o, "size", json_integer((json_int_t)n->size));
            break;
        case ORR_LINEAGE_STEP:
            json_object_set_new(o, "status", json_string(n->detail));
            json_object_set_new(o, "run_id", json_string(n->ref));
            json_object_set_new(o, "workflow", json_string(n->extra));
            break;
        case ORR_LINEAGE_RUN: {
            json_object_set_new(o, "run_id", json_string(n->ref));
            json_object_set_new(o, "status", json_string(n->detail));
            json_t *p = n->extra ? json_loads(n->extra, 0, NULL) : NULL;
            json_object_set_new(o, "params", p ? p : json_object());
            break;
        }
        case ORR_LINEAGE_MODEL:
            json_object_set_new(o, "version", json_integer(n->version));
            json_object_set_new(o, "flavor", n->detail
                                                 ? json_string(n->detail)
                                                 : json_null());
            break;
        }
        json_array_append_new(nodes, o);
    }
    for (size_t i = 0; i < g->n_edges; i++)
        json_array_append_new(edges, json_pack(
            "{s:s, s:s, s:s}", "from", g->nodes[g->edges[i].from].id, "to",
            g->nodes[g->edges[i].to].id, "label", g->edges[i].label));
    const char *dir = dirs == ORR_LINEAGE_UP     ? "up"
                      : dirs == ORR_LINEAGE_DOWN ? "down"
                                                 : "both";
    return json_pack("{s:s, s:s, s:o, s:o}", "root", g->nodes[g->root].id,
                     "direction", dir, "nodes", nodes, "edges", edges);
}

/* A dot string literal: quotes and backslashes escaped, controls out. */
static void dot_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            putchar(' ');
        else
            putchar(c);
    }
    putchar('"');
}

static void print_dot(const struct orr_lineage_graph *g)
{
    static const char *const shapes[] = {
        [ORR_LINEAGE_ARTIFACT] = "note", [ORR_LINEAGE_STEP] = "box",
        [ORR_LINEAGE_RUN] = "ellipse", [ORR_LINEAGE_MODEL] = "doubleoctagon",
    };
    printf("digraph lineage {\n  rankdir=LR;\n  node [fontsize=10];\n");
    for (size_t i = 0; i < g->n_nodes; i++) {
        char buf[1024];
        label(&g->nodes[i], buf, sizeof buf);
        printf("  ");
        dot_str(g->nodes[i].id);
        printf(" [shape=%s%s, label=", shapes[g->nodes[i].kind],
               i == g->root ? ", style=bold" : "");
        dot_str(buf);
        printf("];\n");
    }
    for (size_t i = 0; i < g->n_edges; i++) {
        printf("  ");
        dot_str(g->nodes[g->edges[i].from].id);
        printf(" -> ");
        dot_str(g->nodes[g->edges[i].to].id);
        printf(" [label=");
        dot_str(g->edges[i].label);
        printf("];\n");
    }
    printf("}\n");
}

int orr_cmd_lineage(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *target = NULL;
    int dirs = 0, depth = 0, json = 0, dot = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (orr_cli_is_help(a)) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--up")) {
            dirs |= ORR_LINEAGE_UP;
        } else if (!strcmp(a, "--down")) {
            dirs |= ORR_LINEAGE_DOWN;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--dot")) {
            dot = 1;
        } else if (!strcmp(a, "--depth") || !strncmp(a, "--depth=", 8)) {
            const char *v = a[7] == '=' ? a + 8
                            : i + 1 < argc ? argv[++i] : NULL;
            char *end = NULL;
            long d = v ? strtol(v, &end, 10) : 0;
            if (!v || !*v || *end || d < 1 || d > ORR_LINEAGE_DEPTH_MAX)
                return orr_cli_usage_error(CMD, "--depth takes 1 to %d",
                                           ORR_LINEAGE_DEPTH_MAX);
            depth = (int)d;
        } else if (a[0] == '-' && a[1]) {
            return orr_cli_usage_error(CMD, "unknown option '%s'", a);
        } else if (target) {
            return orr_cli_usage_error(CMD, "one target at a time ('%s' and "
                                       "'%s')", target, a);
        } else {
            target = a;
        }
    }
    if (!target)
        return orr_cli_usage_error(CMD, "lineage of what? (an artifact "
                                   "digest, a run id or models:/NAME/V)");
    if (json && dot)
        return orr_cli_usage_error(CMD, "--json or --dot, not both");
    if (!dirs)
        dirs = ORR_LINEAGE_UP | ORR_LINEAGE_DOWN;
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_meta *m = NULL;
    struct orr_lineage_graph *graph = NULL;
    struct orr_core_options copt = {.site_path = g->site_path};
    int rc = orr_core_open(&core, &copt, &e);
    if (!rc)
        rc = orr_core_meta(core, &m, &e);
    if (!rc)
        rc = orr_lineage_query(m, target, dirs, depth, &graph, &e);
    int code = ORR_EXIT_OK;
    if (rc)
        code = orr_cli_fail(CMD, &e);
    else if (json)
        code = orr_cli_print_json(graph_json(graph, dirs));
    else if (dot)
        print_dot(graph);
    else
        print_tree(graph, dirs);
    orr_lineage_free(graph);
    orr_core_close(core);
    return code;
}
