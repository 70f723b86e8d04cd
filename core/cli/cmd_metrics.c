/*
 * cli/cmd_metrics.c - `orrery metrics RUN KEY [--json] [--plot]`: a
 * metric series as text, JSON, or a braille chart.
 *
 * The chart packs 2 x 4 dots per character cell (Unicode braille,
 * U+2800 + dot bits), joins consecutive points with lines so a learning
 * curve reads as a curve, and labels the value axis (max, middle, min)
 * and the step axis (first, last).  Width comes from $COLUMNS (80 when
 * unset or unusable).  Points that are NaN or infinite are left out of
 * the chart and counted under it.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core.h"
#include "meta/query.h"
#include "util/error.h"

#define PLOT_ROWS 12
#define LABEL_W   10

struct series {
    struct orr_metric_point *p;
    size_t                   n, cap;
};

static int collect(void *ctx, const struct orr_metric_point *p)
{
    struct series *s = ctx;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        struct orr_metric_point *np = realloc(s->p, nc * sizeof *np);
        if (!np)
            return ORR_ENOMEM;
        s->p = np;
        s->cap = nc;
    }
    s->p[s->n++] = *p;
    return ORR_OK;
}

static void help(void)
{
    printf("Usage: orrery metrics RUN KEY [--json] [--plot]\n"
           "\n"
           "Print the series KEY of run RUN (an id or a unique prefix) in\n"
           "step order: step, value, time.\n"
           "\n"
           "  --plot   draw it as a chart in the terminal (width $COLUMNS)\n"
           "  --json   {\"run\", \"key\", \"points\": [{\"step\", \"time_ms\",\n"
           "           \"value\"}]}; NaN and infinities are the strings\n"
           "           \"NaN\", \"Infinity\", \"-Infinity\"\n"
           "\n"
           "Exit status: 0 success, 1 unknown run or key, 2 bad usage.\n");
}

static const char *fmt_num(char *buf, size_t cap, double v)
{
    if (isnan(v))
        snprintf(buf, cap, "nan");
    else if (isinf(v))
        snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, cap, "%.6g", v);
    return buf;
}

/* Put the UTF-8 of braille cell `bits`. */
static void put_braille(unsigned bits)
{
    unsigned cp = 0x2800 + bits;
    putchar((int)(0xE0 | (cp >> 12)));
    putchar((int)(0x80 | ((cp >> 6) & 0x3F)));
    putchar((int)(0x80 | (cp & 0x3F)));
}

static void dot(unsigned char *grid, int cols, int x, int y)
{
    /* Dot bits of a braille cell by (column, row within the cell). */
    static const unsigned char bit[2][4] = {{0x01, 0x02, 0x04, 0x40},
                                            {0x08, 0x10, 0x20, 0x80}};
    int cx = x / 2, cy = y / 4;
    if (cx >= 0 && cx < cols && cy >= 0 && cy < PLOT_ROWS)
        grid[cy * cols + cx] |= bit[x % 2][y % 4];
}

static void line(unsigned char *grid, int cols, int x0, int y0, int x1,
                 int y1)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) {
        dot(grid, cols, x0, y0);
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

static int plot(const char *run, const char *key, const struct series *s)
{
    const char *env = getenv("COLUMNS");
    long width = env ? strtol(env, NULL, 10) : 80;
    if (width < 30 || width > 1000)
        width = 80;
    int cols = (int)width - LABEL_W - 2;
    double lo = 0, hi = 0;
    int64_t s0 = 0, s1 = 0;
    size_t finite = 0;
    for (size_t i = 0; i < s->n; i++) {
        double v = s->p[i].value;
        if (!isfinite(v))
            continue;
        if (!finite || v < lo)
            lo = v;
        if (!finite || v > hi)
            hi = v;
        if (!finite)
            s0 = s->p[i].step;
        s1 = s->p[i].step;
        finite++;
    }
    printf("%s  (run %.12s, %zu points)\n", key, run, s->n);
    if (!finite) {
        printf("(no finite values to plot)\n");
        return ORR_EXIT_OK;
    }
    if (hi == lo) {
        hi += fabs(hi) > 0 ? fabs(hi) * 0.01 : 1;
        lo -= fabs(lo) > 0 ? fabs(lo) * 0.01 : 1;
    }
    unsigned char *grid = calloc((size_t)cols * PLOT_ROWS, 1);
    if (!grid) {
        fprintf(stderr, "orrery metrics: out of memory\n");
        return ORR_EXIT_FAIL;
    }
    int w = cols * 2, h = PLOT_ROWS * 4, px = -1, py = -1;
    for (size_t i = 0; i < s->n; i++) {
        double v = s->p[i].value;
        if (!isfinite(v))
            continue;
        double fx = s1 > s0 ? (double)(s->p[i].step - s0) / (double)(s1 - s0)
                            : (double)i / (double)(s->n > 1 ? s->n - 1 : 1);
        int x = (int)lround(fx * (w - 1));
        int y = (int)lround((hi - v) / (hi - lo) * (h - 1));
        if (px < 0)
            dot(grid, cols, x, y);
        else
            line(grid, cols, px, py, x, y);
        px = x;
        py = y;
    }
    for (int r = 0; r < PLOT_ROWS; r++) {
        char lab[32] = "";
        if (r == 0)
            fmt_num(lab, sizeof lab, hi);
        else if (r == PLOT_ROWS / 2)
            fmt_num(lab, sizeof lab, (hi + lo) / 2);
        else if (r == PLOT_ROWS - 1)
            fmt_num(lab, sizeof lab, lo);
        printf("%*.*s \u2524", LABEL_W, LABEL_W, lab);
        for (int c = 0; c < cols; c++)
            put_braille(grid[r * cols + c]);
        putchar('\n');
    }
    printf("%*s \u2514", LABEL_W, "");
    for (int c = 0; c < cols; c++)
        printf("\u2500");
    char a[32], b[32];
    snprintf(a, sizeof a, "%lld", (long long)s0);
    snprintf(b, sizeof b, "%lld", (long long)s1);
    printf("\n%*s  %s%*s\n", LABEL_W, "step", a,
           (int)(cols - strlen(a)) > 0 ? (int)(cols - strlen(a)) : 1, b);
    if (finite < s->n)
        printf("(%zu points not plotted: nan or inf)\n", s->n - finite);
    free(grid);
    return ORR_EXIT_OK;
}

int orr_cmd_metrics(int argc, char **argv, const struct orr_cli_globals *g)
{
    const char *run = NULL, *key = NULL;
    int json = 0, want_plot = 0;
    for (int i = 1; i < argc; i++) {
        if (orr_cli_is_help(argv[i])) {
            help();
            return ORR_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--plot")) {
            want_plot = 1;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return orr_cli_usage_error("metrics", "unknown option '%s'",
                                       argv[i]);
        } else if (!run) {
            run = argv[i];
        } else if (!key) {
            key = argv[i];
        } else {
            return orr_cli_usage_error("metrics", "unexpected argument "
                                       "'%s'", argv[i]);
        }
    }
    if (!run || !key)
        return orr_cli_usage_error("metrics", "expected RUN KEY");
    if (json && want_plot)
        return orr_cli_usage_error("metrics", "--json and --plot exclude "
                                   "each other");
    struct orr_error e = {0};
    struct orr_core *core = NULL;
    struct orr_meta *m = NULL;
    struct orr_core_options copt = {.site_path = g->site_path};
    struct series s = {0};
    char id[ORR_RUN_ID_SIZE];
    int rc = orr_core_open(&core, &copt, &e);
    if (!rc)
        rc = orr_core_meta(core, &m, &e);
    if (!rc)
        rc = orr_meta_run_resolve(m, run, id, &e);
    if (!rc)
        rc = orr_meta_metric_series(m, id, key, collect, &s, &e);
    if (rc == ORR_ENOMEM && !e.msg[0])
        orr_fail(&e, rc, "out of memory");
    int code = ORR_EXIT_OK;
    if (rc) {
        code = orr_cli_fail("metrics", &e);
    } else if (json) {
        json_t *pts = json_array();
        for (size_t i = 0; i < s.n; i++)
            json_array_append_new(pts, json_pack(
                "{s:I, s:I, s:o}", "step", (json_int_t)s.p[i].step,
                "time_ms", (json_int_t)s.p[i].time_ms, "value",
                orri_json_double(s.p[i].value)));
        code = orr_cli_print_json(json_pack("{s:s, s:s, s:o}", "run", id,
                                            "key", key, "points", pts));
    } else if (want_plot) {
        code = plot(id, key, &s);
    } else {
        printf("%10s  %-14s  %s\n", "STEP", "VALUE", "TIME_MS");
        for (size_t i = 0; i < s.n; i++) {
            char b[32];
            printf("%10lld  %-14s  %lld\n", (long long)s.p[i].step,
                   fmt_num(b, sizeof b, s.p[i].value),
                   (long long)s.p[i].time_ms);
        }
    }
    free(s.p);
    orr_core_close(core);
    return code;
}
