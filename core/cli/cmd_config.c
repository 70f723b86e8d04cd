/*
 * cli/cmd_config.c - `orrery config`: the effective site configuration.
 *
 * Reads the site file only (no plugins, no database), so it also works
 * when a backend is broken, which is when one needs it.  Secrets are
 * masked in every output; there is deliberately no option to show them.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/site.h"

#define MASK "****"

static void help(void)
{
    printf("Usage: orrery [--site FILE] config [show] [--json]\n"
           "       orrery [--site FILE] config path\n"
           "\n"
           "show (the default)  print the site file in use, or the paths\n"
           "                    searched, then every effective value as\n"
           "                    KEY VALUE ORIGIN; the origin is 'default'\n"
           "                    or FILE:LINE.  Secrets (values read with\n"
           "                    env(), keys such as secret_key, password,\n"
           "                    api_token) are always shown as " MASK ".\n"
           "path                print the site file in use; exit 1 (with\n"
           "                    the searched paths on stderr) if there is\n"
           "                    none and the embedded defaults apply.\n"
           "\n"
           "  --json   one JSON object: {\"file\", \"searched\", \"dir\",\n"
           "           \"db_path\", \"plugin_path\", \"values\"}; each value\n"
           "           is {\"value\", \"origin\", \"secret\"}\n"
           "\n"
           "The site file is searched as: --site FILE, $ORRERY_SITE,\n"
           "./orrery.site.lua, $XDG_CONFIG_HOME/orrery/site.lua\n"
           "(~/.config), /etc/orrery/site.lua.\n"
           "Exit status: 0 success, 1 unreadable or invalid site file,\n"
           "2 bad usage.\n");
}

struct row {
    char       *key;
    char       *value;      /* text shown: a copy, or MASK copied       */
    const char *origin;     /* points into the tree                     */
};

struct rows {
    struct row *v;
    size_t      n, cap;
};

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].key);
        free(r->v[i].value);
    }
    free(r->v);
}

static int rows_add(struct rows *r, const char *key, const char *value,
                    const char *origin)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        struct row *v = realloc(r->v, cap * sizeof *v);
        if (!v)
            return -1;
        r->v = v;
        r->cap = cap;
    }
    struct row *w = &r->v[r->n];
    w->key = strdup(key);
    w->value = strdup(value);
    w->origin = origin ? origin : "";
    if (!w->key || !w->value) {
        free(w->key);
        free(w->value);
        return -1;
    }
    r->n++;
    return 0;
}

/* One row per scalar (and per empty table), keys joined with '.'. */
static int flatten(const struct orr_cfg *t, const char *prefix,
                   struct rows *r)
{
    for (size_t i = 0; i < t->n_items; i++) {
        const struct orr_cfg *c = t->items[i];
        char key[512], num[64];
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "",
                 c->key);
        if (c->type == ORR_CFG_TABLE) {
            if (c->n_items == 0 && rows_add(r, key, "{}", c->origin))
                return -1;
            if (flatten(c, key, r))
                return -1;
            continue;
        }
        const char *v = c->secret ? MASK
                                  : orr_cfg_scalar_text(c, num, sizeof num);
        if (rows_add(r, key, v, c->origin))
            return -1;
    }
    return 0;
}

/* Control characters would let a value forge table lines. */
static void put_clean(const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch == 0x7f)
            printf("\\x%02x", ch);
        else
            putchar(ch);
    }
}

static int show_text(const struct orr_site *s)
{
    const char *searched[8], *dirs[64];
    size_t ns = orr_site_searched(s, searched, 8);
    size_t nd = orr_site_plugin_paths(s, dirs, 64);
    struct rows r = {0};
    if (s->path) {
        printf("site file:   ");
        put_clean(s->path);
        putchar('\n');
    } else {
        printf("site file:   embedded defaults (no site file found; "
               "searched: ");
        for (size_t i = 0; i < ns; i++) {
            put_clean(searched[i]);
            printf("%s", i + 1 < ns ? ", " : "");
        }
        printf(")\n");
    }
    printf("site dir:    ");
    put_clean(s->dir);
    printf("\ndatabase:    ");
    put_clean(s->db_path);
    putchar('\n');
    for (size_t i = 0; i < nd; i++) {
        printf("%s", i ? "             " : "plugin dirs: ");
        put_clean(dirs[i]);
        putchar('\n');
    }
    putchar('\n');
    if (flatten(s->root, "", &r)) {
        rows_free(&r);
        fprintf(stderr, "orrery config: out of memory\n");
        return ORR_EXIT_FAIL;
    }
    int kw = 3, vw = 5;
    for (size_t i = 0; i < r.n; i++) {
        const struct row *w = &r.v[i];
        int kl = (int)strlen(w->key), vl = (int)strlen(w->value);
        kw = kl > kw ? (kl < 40 ? kl : 40) : kw;
        vw = vl > vw ? (vl < 40 ? vl : 40) : vw;
    }
    printf("%-*s  %-*s  %s\n", kw, "KEY", vw, "VALUE", "ORIGIN");
    for (size_t i = 0; i < r.n; i++) {
        printf("%-*s  ", kw, r.v[i].key);
        put_clean(r.v[i].value);
        int vl = (int)strlen(r.v[i].value);
        printf("%*s  ", vl < vw ? vw - vl : 0, "");
        put_clean(r.v[i].origin);
        putchar('\n');
    }
    rows_free(&r);
    return ferror(stdout) ? ORR_EXIT_FAIL : ORR_EXIT_OK;
}

/* jansson refuses invalid UTF-8; such bytes become '?'. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static json_t *value_json(const struct orr_cfg *c)
{
    if (c->type == ORR_CFG_TABLE) {
        json_t *o = c->is_array ? json_array() : json_object();
        for (size_t i = 0; o && i < c->n_items; i++) {
            json_t *v = value_json(c->items[i]);
            int rc = c->is_array ? json_array_append_new(o, v)
                                 : json_object_set_new(o, c->items[i]->key, v);
            if (!v || rc) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    json_t *v;
    if (c->secret)
        v = json_string(MASK);
    else if (c->type == ORR_CFG_STRING)
        v = jstr(c->v.str);
    else if (c->type == ORR_CFG_INTEGER)
        v = json_integer((json_int_t)c->v.integer);
    else if (c->type == ORR_CFG_NUMBER)
        v = json_real(c->v.num);
    else
        v = json_boolean(c->v.boolean);
    return json_pack("{s:o, s:s?, s:b}", "value", v, "origin", c->origin,
                     "secret", c->secret);
}

static int show_json(const struct orr_site *s)
{
    const char *searched[8], *dirs[64];
    size_t ns = orr_site_searched(s, searched, 8);
    size_t nd = orr_site_plugin_paths(s, dirs, 64);
    json_t *js = json_array(), *jd = json_array();
    for (size_t i = 0; js && i < ns; i++)
        json_array_append_new(js, jstr(searched[i]));
    for (size_t i = 0; jd && i < nd; i++)
        json_array_append_new(jd, jstr(dirs[i]));
    json_t *doc = json_pack("{s:o?, s:o, s:o, s:o, s:o, s:o}",
                            "file", s->path ? jstr(s->path) : NULL,
                            "searched", js, "dir", jstr(s->dir),
                            "db_path", jstr(s->db_path),
                            "plugin_path", jd,
                            "values", value_json(s->root));
    if (!doc) {
        fprintf(stderr, "orrery config: out of memory\n");
        return ORR_EXIT_FAIL;
    }
    return orr_cli_print_json(doc);
}

int orr_cmd_config(int argc, char **argv, const struct orr_cli_globals *g)
{
    int json = 0, path_only = 0, i = 1;
    if (i < argc && !strcmp(argv[i], "show"))
        i++;
    else if (i < argc && !strcmp(argv[i], "path"))
        path_only = 1, i++;
    for (; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(argv[i], "--json") && !path_only) {
            json = 1;
        } else if (argv[i][0] == '-') {
            return orr_cli_usage_error("config", "unknown option '%s'",
                                       argv[i]);
        } else {
            return orr_cli_usage_error("config", "unexpected argument '%s' "
                                       "(subcommands: show, path)", argv[i]);
        }
    }
    struct orr_error e = {0};
    struct orr_site *s = NULL;
    if (orr_site_load(&s, g ? g->site_path : NULL, &e))
        return orr_cli_fail("config", &e);
    int rc;
    if (path_only) {
        if (s->path) {
            printf("%s\n", s->path);
            rc = ORR_EXIT_OK;
        } else {
            const char *searched[8];
            size_t ns = orr_site_searched(s, searched, 8);
            fprintf(stderr, "orrery config: no site file (embedded defaults "
                            "apply); searched:\n");
            for (size_t k = 0; k < ns; k++)
                fprintf(stderr, "  %s\n", searched[k]);
            rc = ORR_EXIT_FAIL;
        }
    } else {
        rc = json ? show_json(s) : show_text(s);
    }
    orr_site_free(s);
    return rc;
}
