/*
 * cli/cmd_models.c - `orrery models`: register, list, show, alias
 * set/delete, delete-version and the promotion gate.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cmd_registry.h"
#include "core.h"
#include "meta/registry.h"
#include "storage/artifacts.h"

#define CMD "models"

static void help(void)
{
    printf(
        "Usage: orrery models COMMAND [ARGS...]\n"
        "\n"
        "The model registry: named models, numbered versions linked to the\n"
        "run and artifact that produced them, and aliases (@champion...)\n"
        "whose every move is recorded with who, when and why.\n"
        "\n"
        "Commands:\n"
        "  register NAME --artifact DIGEST [--run RUN] [--flavor F]\n"
        "           [--dataset HASH ...] [--description TEXT] [--alias A]\n"
        "           [--reason TEXT] [--json]   add a version\n"
        "  list [--limit N] [--cursor C] [--json]          list models\n"
        "  show NAME[/VERSION|@ALIAS] [--json]  versions, aliases, history\n"
        "  alias set NAME ALIAS VERSION [--reason TEXT]    point an alias\n"
        "  alias delete NAME ALIAS [--reason TEXT]         remove an alias\n"
        "  delete-version NAME VERSION [--force] [--reason TEXT]\n"
        "  gate NAME --candidate V --metric KEY [--min-delta D]\n"
        "       [--lower-is-better] [--alias A] [--json]\n"
        "       exit 0 if the candidate beats @champion by D, else 1\n"
        "\n"
        "Model URIs: models:/NAME (latest), models:/NAME/3,\n"
        "models:/NAME@champion; the models:/ prefix is optional here.\n"
        "Digests and run ids may be given as unique prefixes (4+ digits).\n"
        "\n"
        "Exit status: 0 success, 1 the operation failed (or the gate\n"
        "failed), 2 bad usage.  'orrery models COMMAND --help' for more.\n");
}

/* ---- helpers ----------------------------------------------------------- */

struct session {
    struct orr_core *core;
    struct orr_meta *meta;
};

static int open_meta(const struct orr_cli_globals *g, struct session *s,
                     struct orr_error *e)
{
    struct orr_core_options copt = {.site_path = g->site_path};
    int rc = orr_core_open(&s->core, &copt, e);
    if (!rc)
        rc = orr_core_meta(s->core, &s->meta, e);
    return rc;
}

static void close_meta(struct session *s)
{
    orr_core_close(s->core);
}

static const char *fmt_time(char *buf, size_t cap, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!ms || !localtime_r(&t, &tm) ||
        !strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, cap, "-");
    return buf;
}

/* A positive version number, or 0. */
static int64_t parse_version(const char *s)
{
    if (!s || !*s)
        return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 1 || s[0] == '+' || s[0] == ' ')
        return 0;
    return (int64_t)v;
}

/* Option with a value: "--x V" or "--x=V".  1 if matched (value set or
 * NULL when missing). */
static int opt_val(int argc, char **argv, int *i, const char *name,
                   const char **val)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (!strcmp(a, name)) {
        *val = *i + 1 < argc ? argv[++*i] : NULL;
        return 1;
    }
    if (!strncmp(a, name, n) && a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    return 0;
}

static int missing(const char *sub, const char *opt)
{
    return orr_cli_usage_error(CMD, "%s: %s needs a value", sub, opt);
}

static json_t *version_json(const struct orr_model_version *v)
{
    json_t *o = json_pack("{s:s, s:I, s:s, s:I, s:s, s:I}", "name", v->name,
                          "version", (json_int_t)v->version, "artifact",
                          v->artifact, "artifact_size",
                          (json_int_t)v->artifact_size, "status", v->status,
                          "created_ms", (json_int_t)v->created_ms);
    json_object_set_new(o, "run_id", v->run_id[0] ? json_string(v->run_id)
                                                  : json_null());
    json_object_set_new(o, "flavor", v->flavor[0] ? json_string(v->flavor)
                                                  : json_null());
    json_object_set_new(o, "description", v->description[0]
                                              ? json_string(v->description)
                                              : json_null());
    char uri[ORR_MODEL_NAME_MAX + 32];
    snprintf(uri, sizeof uri, "models:/%s/%lld", v->name,
             (long long)v->version);
    json_object_set_new(o, "uri", json_string(uri));
    return o;
}

/* ---- register ---------------------------------------------------------- */

static int cmd_register(int argc, char **argv,
                        const struct orr_cli_globals *g)
{
    struct orr_model_version_spec spec = {.artifact_size = -1};
    const char *datasets[ORR_DATASETS_MAX];
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (orr_cli_is_help(a)) {
            printf("Usage: orrery models register NAME --artifact DIGEST "
                   "[--run RUN]\n"
                   "         [--flavor F] [--dataset HASH ...] "
                   "[--description TEXT]\n"
                   "         [--alias ALIAS [--reason TEXT]] [--json]\n\n"
                   "Add the next version of model NAME (created if new).\n"
                   "DIGEST is a stored artifact (or a unique prefix of a\n"
                   "recorded one); RUN the run that produced it, whose\n"
                   "latest metrics are snapshotted with the version.\n"
                   "--dataset (repeatable) records what it was trained on;\n"
                   "without it, the run's dataset artifacts are used.\n"
                   "--alias points ALIAS at the new version.\n");
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (opt_val(argc, argv, &i, "--run", &v)) {
            if (!(spec.run_id = v))
                return missing("register", "--run");
        } else if (opt_val(argc, argv, &i, "--artifact", &v)) {
            if (!(spec.artifact = v))
                return missing("register", "--artifact");
        } else if (opt_val(argc, argv, &i, "--flavor", &v)) {
            if (!(spec.flavor = v))
                return missing("register", "--flavor");
        } else if (opt_val(argc, argv, &i, "--description", &v)) {
            if (!(spec.description = v))
                return missing("register", "--description");
        } else if (opt_val(argc, argv, &i, "--alias", &v)) {
            if (!(spec.alias = v))
                return missing("register", "--alias");
        } else if (opt_val(argc, argv, &i, "--reason", &v)) {
            if (!(spec.reason = v))
                return missing("register", "--reason");
        } else if (opt_val(argc, argv, &i, "--dataset", &v)) {
            if (!v)
                return missing("register", "--dataset");
            if (spec.n_datasets == ORR_DATASETS_MAX)
                return orr_cli_usage_error(CMD, "more than %d --dataset",
                                           ORR_DATASETS_MAX);
            datasets[spec.n_datasets++] = v;
        } else if (a[0] == '-' && a[1]) {
            return orr_cli_usage_error(CMD, "register: unknown option '%s'",
                                       a);
        } else if (spec.name) {
            return orr_cli_usage_error(CMD, "register: one model name "
                                       "('%s' and '%s')", spec.name, a);
        } else {
            spec.name = a;
        }
    }
    if (!spec.name)
        return orr_cli_usage_error(CMD, "register: which model? (orrery "
                                   "models register NAME --artifact "
                                   "DIGEST)");
    if (!spec.artifact)
        return orr_cli_usage_error(CMD, "register: --artifact DIGEST is "
                                   "required");
    spec.datasets = datasets;
    spec.datasets_from_run = spec.n_datasets == 0;

    struct orr_error e = {0};
    struct session s = {0};
    int64_t version = 0;
    int rc = open_meta(g, &s, &e);
    if (!rc && orr_digest_is_valid(spec.artifact)) {
        /* A stored blob not recorded yet is recorded as a model. */
        struct orr_instance *st = NULL;
        struct orr_blob_info info;
        struct orr_error e2 = {0};
        if (!orr_core_storage(s.core, &st, &e2) &&
            !orr_storage_stat(st, spec.artifact, &info, &e2))
            spec.artifact_size = (int64_t)info.size;
    }
    if (!rc)
        rc = orr_registry_register(s.meta, &spec, &version, &e);
    struct orr_model_version v;
    char uri[ORR_MODEL_NAME_MAX + 32];
    snprintf(uri, sizeof uri, "%s/%lld", spec.name, (long long)version);
    if (!rc)
        rc = orr_registry_resolve(s.meta, uri, &v, &e);
    int code = ORR_EXIT_OK;
    if (rc) {
        code = orr_cli_fail(CMD, &e);
    } else if (json) {
        json_t *o = version_json(&v);
        if (spec.alias)
            json_object_set_new(o, "alias", json_string(spec.alias));
        code = orr_cli_print_json(o);
    } else {
        printf("registered models:/%s/%lld (artifact %.12s%s%s)%s%s\n",
               v.name, (long long)v.version, v.artifact,
               v.run_id[0] ? ", run " : "", v.run_id[0] ? v.run_id : "",
               spec.alias ? ", now @" : "", spec.alias ? spec.alias : "");
    }
    close_meta(&s);
    return code;
}

/* ---- list -------------------------------------------------------------- */

struct list_ctx {
    json_t *arr;
    size_t  n;
};

static int list_one(void *ctx, const struct orr_registered_model *mi)
{
    struct list_ctx *c = ctx;
    c->n++;
    if (c->arr) {
        json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "name",
                              mi->name, "versions",
                              (json_int_t)mi->n_versions, "latest",
                              (json_int_t)mi->latest, "aliases",
                              (json_int_t)mi->n_aliases, "created_ms",
                              (json_int_t)mi->created_ms, "updated_ms",
                              (json_int_t)mi->updated_ms);
        json_object_set_new(o, "description", mi->description
                                                  ? json_string(
                                                        mi->description)
                                                  : json_null());
        json_array_append_new(c->arr, o);
        return 0;
    }
    char t[32];
    if (c->n == 1)
        printf("%-32s %8s %6s %7s  %s\n", "MODEL", "VERSIONS", "LATEST",
               "ALIASES", "UPDATED");
    printf("%-32s %8lld %6lld %7lld  %s\n", mi->name,
           (long long)mi->n_versions, (long long)mi->latest,
           (long long)mi->n_aliases, fmt_time(t, sizeof t, mi->updated_ms));
    return 0;
}

static int cmd_list(int argc, char **argv, const struct orr_cli_globals *g)
{
    int json = 0;
    struct orr_page page = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (orr_cli_is_help(a)) {
            printf("Usage: orrery models list [--limit N] [--cursor C] "
                   "[--json]\n\nList registered models by name, 100 per "
                   "page (--limit, up to\n10000); when there are more, "
                   "the next page's --cursor is printed.\n");
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (opt_val(argc, argv, &i, "--limit", &v)) {
            int64_t n = parse_version(v);
            if (n < 1 || n > 10000)
                return orr_cli_usage_error(CMD, "list: --limit takes 1 to "
                                           "10000");
            page.limit = (size_t)n;
        } else if (opt_val(argc, argv, &i, "--cursor", &v)) {
            if (!(page.cursor = v))
                return missing("list", "--cursor");
        } else {
            return orr_cli_usage_error(CMD, "list: unexpected '%s'", a);
        }
    }
    struct orr_error e = {0};
    struct session s = {0};
    struct list_ctx c = {.arr = json ? json_array() : NULL};
    int rc = open_meta(g, &s, &e);
    if (!rc)
        rc = orr_registry_models(s.meta, &page, list_one, &c, &e);
    int code = ORR_EXIT_OK;
    if (rc) {
        json_decref(c.arr);
        code = orr_cli_fail(CMD, &e);
    } else if (json) {
        json_t *doc = json_pack("{s:o}", "models", c.arr);
        json_object_set_new(doc, "next_cursor", page.next[0]
                                                    ? json_string(page.next)
                                                    : json_null());
        code = orr_cli_print_json(doc);
    } else {
        if (!c.n)
            printf("no models registered (orrery models register NAME "
                   "--artifact DIGEST --run RUN)\n");
        if (page.next[0])
            printf("more: orrery models list --cursor %s\n", page.next);
    }
    close_meta(&s);
    return code;
}

/* ---- show -------------------------------------------------------------- */

struct show_ctx {
    struct orr_model_version *v;
    size_t n, cap;
    json_t *arr;            /* aliases, history, datasets, metrics          */
    json_t *obj;
    int     json;
    int     first;
};

static int keep_version(void *ctx, const struct orr_model_version *v)
{
    struct show_ctx *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        void *p = realloc(c->v, cap * sizeof *c->v);
        if (!p)
            return ORR_ENOMEM;
        c->v = p;
        c->cap = cap;
    }
    c->v[c->n++] = *v;
    return 0;
}

static int show_alias(void *ctx, const struct orr_alias_info *a)
{
    struct show_ctx *c = ctx;
    char t[32];
    if (c->json) {
        json_array_append_new(c->arr, json_pack(
            "{s:s, s:I, s:I}", "alias", a->alias, "version",
            (json_int_t)a->version, "updated_ms",
            (json_int_t)a->updated_ms));
        return 0;
    }
    if (c->first) {
        printf("\naliases:\n");
        c->first = 0;
    }
    printf("  @%-20s -> %lld  (since %s)\n", a->alias, (long long)a->version,
           fmt_time(t, sizeof t, a->updated_ms));
    return 0;
}

static void print_ver(char *buf, size_t cap, int64_t v)
{
    if (v)
        snprintf(buf, cap, "%lld", (long long)v);
    else
        snprintf(buf, cap, "-");
}

static int show_event(void *ctx, const struct orr_alias_event *ev)
{
    struct show_ctx *c = ctx;
    char t[32], o[24], n[24];
    if (c->json) {
        json_t *x = json_pack("{s:I, s:s, s:I}", "id", (json_int_t)ev->id,
                              "alias", ev->alias, "time_ms",
                              (json_int_t)ev->time_ms);
        json_object_set_new(x, "old_version", ev->old_version
                            ? json_integer(ev->old_version) : json_null());
        json_object_set_new(x, "new_version", ev->new_version
                            ? json_integer(ev->new_version) : json_null());
        json_object_set_new(x, "user", ev->user ? json_string(ev->user)
                                                : json_null());
        json_object_set_new(x, "reason", ev->reason
                                             ? json_string(ev->reason)
                                             : json_null());
        json_array_append_new(c->arr, x);
        return 0;
    }
    if (c->first) {
        printf("\nalias history (newest first):\n");
        c->first = 0;
    }
    print_ver(o, sizeof o, ev->old_version);
    print_ver(n, sizeof n, ev->new_version);
    printf("  %s  @%s %s -> %s  by %s%s%s\n", fmt_time(t, sizeof t,
           ev->time_ms), ev->alias, o, n, ev->user ? ev->user : "?",
           ev->reason ? ": " : "", ev->reason ? ev->reason : "");
    return 0;
}

static int show_dataset(void *ctx, const char *digest)
{
    struct show_ctx *c = ctx;
    if (c->json)
        json_array_append_new(c->arr, json_string(digest));
    else
        printf("  trained on   %s\n", digest);
    return 0;
}

static int show_metric(void *ctx, const char *key, double value)
{
    struct show_ctx *c = ctx;
    if (c->json) {
        json_object_set_new(c->obj, key, isfinite(value)
                                             ? json_real(value)
                                             : json_string(isnan(value)
                                                   ? "NaN"
                                                   : value > 0 ? "Inf"
                                                               : "-Inf"));
        return 0;
    }
    printf("  metric       %s = %.6g\n", key, value);
    return 0;
}

static void print_version(const struct orr_model_version *v)
{
    char t[32];
    printf("  %-5lld %-8s %.12s  %-10s %s  %s\n", (long long)v->version,
           v->status, v->artifact, v->flavor[0] ? v->flavor : "-",
           fmt_time(t, sizeof t, v->created_ms),
           v->run_id[0] ? v->run_id : "(no run)");
}

static int show_one(struct session *s, const char *uri, int json,
                    struct orr_error *e)
{
    struct orr_model_version v;
    int rc = orr_registry_resolve(s->meta, uri, &v, e);
    if (rc)
        return orr_cli_fail(CMD, e);
    struct show_ctx c = {.json = json};
    json_t *doc = NULL;
    if (json) {
        doc = version_json(&v);
        c.arr = json_array();
        c.obj = json_object();
        json_object_set_new(doc, "datasets", c.arr);
        json_object_set_new(doc, "metrics", c.obj);
    } else {
        char t[32];
        printf("models:/%s/%lld  %s\n  artifact     %s (%llu bytes)\n"
               "  run          %s\n  flavor       %s\n  created      %s\n",
               v.name, (long long)v.version, v.status, v.artifact,
               (unsigned long long)v.artifact_size,
               v.run_id[0] ? v.run_id : "(none)",
               v.flavor[0] ? v.flavor : "-",
               fmt_time(t, sizeof t, v.created_ms));
        if (v.description[0])
            printf("  description  %s\n", v.description);
    }
    rc = orr_registry_datasets(s->meta, v.name, v.version, show_dataset, &c,
                               e);
    if (!rc)
        rc = orr_registry_metrics(s->meta, v.name, v.version, show_metric,
                                  &c, e);
    if (rc) {
        json_decref(doc);
        return orr_cli_fail(CMD, e);
    }
    return json ? orr_cli_print_json(doc) : ORR_EXIT_OK;
}

static int show_model(struct session *s, const char *name, int json,
                      struct orr_error *e)
{
    struct show_ctx c = {.json = json};
    struct orr_page page = {.limit = 10000};
    int rc = ORR_OK;
    do {
        rc = orr_registry_versions(s->meta, name, &page, keep_version, &c,
                                   e);
        page.cursor = page.next;
    } while (!rc && page.next[0]);
    if (rc) {
        free(c.v);
        return orr_cli_fail(CMD, e);
    }
    json_t *doc = NULL, *vers = NULL;
    if (json) {
        doc = json_pack("{s:s}", "name", name);
        vers = json_array();
        json_object_set_new(doc, "versions", vers);
    } else {
        printf("model %s: %zu version%s\n", name, c.n, c.n == 1 ? "" : "s");
        if (c.n)
            printf("  %-5s %-8s %-12s  %-10s %-19s  %s\n", "VER", "STATUS",
                   "ARTIFACT", "FLAVOR", "CREATED", "RUN");
    }
    for (size_t i = 0; !rc && i < c.n; i++) {
        if (!json) {
            print_version(&c.v[i]);
            continue;
        }
        json_t *o = version_json(&c.v[i]);
        struct show_ctx d = {.json = 1, .arr = json_array()};
        json_object_set_new(o, "datasets", d.arr);
        rc = orr_registry_datasets(s->meta, name, c.v[i].version,
                                   show_dataset, &d, e);
        json_array_append_new(vers, o);
    }
    free(c.v);
    c.v = NULL;
    c.first = 1;
    if (json) {
        c.arr = json_array();
        json_object_set_new(doc, "aliases", c.arr);
    }
    if (!rc)
        rc = orr_registry_aliases(s->meta, name, show_alias, &c, e);
    c.first = 1;
    if (json) {
        c.arr = json_array();
        json_object_set_new(doc, "alias_history", c.arr);
    }
    struct orr_page hp = {.limit = 50};
    if (!rc)
        rc = orr_registry_alias_history(s->meta, name, NULL, &hp, show_event,
                                        &c, e);
    if (rc) {
        json_decref(doc);
        return orr_cli_fail(CMD, e);
    }
    if (json)
        return orr_cli_print_json(doc);
    if (hp.next[0])
        printf("  (older events not shown)\n");
    return ORR_EXIT_OK;
}

static int cmd_show(int argc, char **argv, const struct orr_cli_globals *g)
{
    int json = 0;
    const char *what = NULL;
    for (int i = 1; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            printf("Usage: orrery models show NAME[/VERSION|@ALIAS] "
                   "[--json]\n\nWith NAME: every version, the aliases and "
                   "their history.\nWith a version or alias: that "
                   "version, its datasets and\nthe latest metrics of the "
                   "run that produced it.\n");
            return ORR_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return orr_cli_usage_error(CMD, "show: unknown option '%s'",
                                       argv[i]);
        } else if (what) {
            return orr_cli_usage_error(CMD, "show: one model at a time");
        } else {
            what = argv[i];
        }
    }
    if (!what)
        return orr_cli_usage_error(CMD, "show: which model? (orrery models "
                                   "show NAME[/VERSION|@ALIAS])");
    struct orr_error e = {0};
    struct session s = {0};
    if (open_meta(g, &s, &e)) {
        close_meta(&s);
        return orr_cli_fail(CMD, &e);
    }
    /* A bare NAME shows the model; any URI form (models:/NAME is the
     * latest version) shows one version. */
    int code = strpbrk(what, "/@") || !strncmp(what, "models:", 7)
                   ? show_one(&s, what, json, &e)
                   : show_model(&s, what, json, &e);
    close_meta(&s);
    return code;
}

/* ---- alias ------------------------------------------------------------- */

static int cmd_alias(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *pos[4] = {0}, *reason = NULL;
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (orr_cli_is_help(a)) {
            printf("Usage: orrery models alias set NAME ALIAS VERSION "
                   "[--reason TEXT]\n"
                   "       orrery models alias delete NAME ALIAS "
                   "[--reason TEXT]\n\n"
                   "Point an alias at a version (moving it), or remove "
                   "it.  Each change\nis recorded with $USER, the time, "
                   "the reason and the old version\n(see orrery models "
                   "show NAME).  Aliases use letters, digits, '_'\nand "
                   "'-'.\n");
            return ORR_EXIT_OK;
        } else if (opt_val(argc, argv, &i, "--reason", &v)) {
            if (!(reason = v))
                return missing("alias", "--reason");
        } else if (a[0] == '-' && a[1]) {
            return orr_cli_usage_error(CMD, "alias: unknown option '%s'", a);
        } else if (n == 4) {
            return orr_cli_usage_error(CMD, "alias: too many arguments");
        } else {
            pos[n++] = a;
        }
    }
    int set = n > 0 && !strcmp(pos[0], "set");
    int del = n > 0 && !strcmp(pos[0], "delete");
    if (!set && !del)
        return orr_cli_usage_error(CMD, "alias: say 'set' or 'delete' "
                                   "(orrery models alias set NAME ALIAS "
                                   "VERSION)");
    if (set && n != 4)
        return orr_cli_usage_error(CMD, "alias set NAME ALIAS VERSION");
    if (del && n != 3)
        return orr_cli_usage_error(CMD, "alias delete NAME ALIAS");
    int64_t version = 0;
    if (set && !(version = parse_version(pos[3])))
        return orr_cli_usage_error(CMD, "alias set: '%s' is not a version "
                                   "number (1, 2, ...)", pos[3]);
    const char *alias = pos[2][0] == '@' ? pos[2] + 1 : pos[2];
    struct orr_error e = {0};
    struct session s = {0};
    int rc = open_meta(g, &s, &e);
    if (!rc)
        rc = set ? orr_registry_alias_set(s.meta, pos[1], alias, version,
                                          reason, &e)
                 : orr_registry_alias_delete(s.meta, pos[1], alias, reason,
                                             &e);
    int code = ORR_EXIT_OK;
    if (rc)
        code = orr_cli_fail(CMD, &e);
    else if (set)
        printf("%s@%s -> version %lld\n", pos[1], alias, (long long)version);
    else
        printf("deleted %s@%s\n", pos[1], alias);
    close_meta(&s);
    return code;
}

/* ---- delete-version ---------------------------------------------------- */

static int cmd_delete(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *pos[2] = {0}, *reason = NULL;
    int n = 0, force = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (orr_cli_is_help(a)) {
            printf("Usage: orrery models delete-version NAME VERSION "
                   "[--force] [--reason TEXT]\n\nDelete one version.  "
                   "Refused while an alias points to it, unless\n--force, "
                   "which deletes those aliases too (recorded in the "
                   "alias\nhistory).  Its number is never given to "
                   "another version.  The\nmodel file is freed by the "
                   "next 'orrery gc' if nothing else uses it.\n");
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--force")) {
            force = 1;
        } else if (opt_val(argc, argv, &i, "--reason", &v)) {
            if (!(reason = v))
                return missing("delete-version", "--reason");
        } else if (a[0] == '-' && a[1]) {
            return orr_cli_usage_error(CMD, "delete-version: unknown option "
                                       "'%s'", a);
        } else if (n == 2) {
            return orr_cli_usage_error(CMD, "delete-version NAME VERSION");
        } else {
            pos[n++] = a;
        }
    }
    int64_t version = n == 2 ? parse_version(pos[1]) : 0;
    if (n != 2)
        return orr_cli_usage_error(CMD, "delete-version NAME VERSION");
    if (!version)
        return orr_cli_usage_error(CMD, "delete-version: '%s' is not a "
                                   "version number", pos[1]);
    struct orr_error e = {0};
    struct session s = {0};
    int rc = open_meta(g, &s, &e);
    if (!rc)
        rc = orr_registry_version_delete(s.meta, pos[0], version, force,
                                         reason, &e);
    int code = ORR_EXIT_OK;
    if (rc)
        code = orr_cli_fail(CMD, &e);
    else
        printf("deleted models:/%s/%lld\n", pos[0], (long long)version);
    close_meta(&s);
    return code;
}

/* ---- gate -------------------------------------------------------------- */

static int cmd_gate(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *name = NULL, *metric = NULL, *alias = "champion";
    int64_t cand = 0;
    double min_delta = 0;
    int lower = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (orr_cli_is_help(a)) {
            printf("Usage: orrery models gate NAME --candidate VERSION "
                   "--metric KEY\n"
                   "         [--min-delta D] [--lower-is-better] "
                   "[--alias ALIAS] [--json]\n\n"
                   "Compare the latest value of metric KEY of the run "
                   "that produced\nthe candidate with that of the version "
                   "@ALIAS (default champion)\npoints to.  Passes when "
                   "candidate - champion >= D (default 0), or\nwith "
                   "--lower-is-better when champion - candidate >= D; "
                   "passes\nwhen there is no champion yet.  Prints one "
                   "line.\n\nExit status: 0 pass, 1 fail (or error), 2 bad "
                   "usage.\n");
            return ORR_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--lower-is-better")) {
            lower = 1;
        } else if (opt_val(argc, argv, &i, "--candidate", &v)) {
            if (!(cand = parse_version(v)))
                return orr_cli_usage_error(CMD, "gate: --candidate takes a "
                                           "version number");
        } else if (opt_val(argc, argv, &i, "--metric", &v)) {
            if (!(metric = v) || !*v)
                return missing("gate", "--metric");
        } else if (opt_val(argc, argv, &i, "--alias", &v)) {
            if (!(alias = v))
                return missing("gate", "--alias");
        } else if (opt_val(argc, argv, &i, "--min-delta", &v)) {
            char *end = NULL;
            if (!v)
                return missing("gate", "--min-delta");
            errno = 0;
            min_delta = strtod(v, &end);
            if (errno || end == v || *end || !isfinite(min_delta))
                return orr_cli_usage_error(CMD, "gate: --min-delta '%s' is "
                                           "not a number", v);
        } else if (a[0] == '-' && a[1]) {
            return orr_cli_usage_error(CMD, "gate: unknown option '%s'", a);
        } else if (name) {
            return orr_cli_usage_error(CMD, "gate: one model at a time");
        } else {
            name = a;
        }
    }
    if (!name || !cand || !metric)
        return orr_cli_usage_error(CMD, "gate NAME --candidate VERSION "
                                   "--metric KEY [--min-delta D]");
    struct orr_error e = {0};
    struct session s = {0};
    struct orr_gate_result r;
    int rc = open_meta(g, &s, &e);
    if (!rc)
        rc = orr_registry_gate(s.meta, name, cand, metric, min_delta, lower,
                               alias, &r, &e);
    int code;
    if (rc) {
        code = orr_cli_fail(CMD, &e);
    } else if (json) {
        json_t *doc = json_pack("{s:b, s:s, s:I, s:s, s:f, s:s}", "pass",
                                r.pass, "model", name, "candidate",
                                (json_int_t)cand, "metric", metric,
                                "min_delta", min_delta, "message",
                                r.message);
        json_object_set_new(doc, "candidate_value", isfinite(r.candidate)
                            ? json_real(r.candidate) : json_null());
        if (r.has_champion) {
            json_object_set_new(doc, "champion",
                                json_integer(r.champion_version));
            json_object_set_new(doc, "champion_value",
                                isfinite(r.champion) ? json_real(r.champion)
                                                     : json_null());
        } else {
            json_object_set_new(doc, "champion", json_null());
        }
        json_object_set_new(doc, "lower_is_better", json_boolean(lower));
        code = orr_cli_print_json(doc);
        if (!code && !r.pass)
            code = ORR_EXIT_FAIL;
    } else {
        printf("%s\n", r.message);
        code = r.pass ? ORR_EXIT_OK : ORR_EXIT_FAIL;
    }
    close_meta(&s);
    return code;
}

int orr_cmd_models(int argc, char **argv, const struct orr_cli_globals *g)
{
    if (argc < 2) {
        help();
        return ORR_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (orr_cli_is_help(sub)) {
        help();
        return ORR_EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **, const struct orr_cli_globals *);
    } subs[] = {
        {"register", cmd_register}, {"list", cmd_list}, {"show", cmd_show},
        {"alias", cmd_alias}, {"delete-version", cmd_delete},
        {"gate", cmd_gate},
    };
    for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
        if (!strcmp(sub, subs[i].name))
            return subs[i].fn(argc - 1, argv + 1, g);
    return orr_cli_usage_error(CMD, "unknown command '%s' (register, list, "
                               "show, alias, delete-version, gate)", sub);
}
