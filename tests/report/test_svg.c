/*
 * tests/report/test_svg.c - the report's SVG helpers (core/monitor/svg.c)
 * and the renderers on hand-built reports: escaping of hostile and
 * malformed strings, ticks, number labels, scales, and reports with
 * nothing in them (one window, no features, no histograms).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/report.h"
#include "monitor/svg.h"
#include "test.h"

static void test_escape(void)
{
    struct orri_svg_out o = { ORR_BUF_INIT, 0 };
    orri_svg_text(&o, "<script>\"a\" & 'b'</script>");
    CHECK_STR(o.buf.data, "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;"
                          "&lt;/script&gt;");
    orri_buf_reset(&o.buf);
    /* A control character, a lone continuation byte, a truncated
     * sequence, an overlong '<' and a valid é. */
    orri_svg_text(&o, "a\x01" "b\x80" "c\xc3" "d\xc0\xbc" "\xc3\xa9");
    CHECK_STR(o.buf.data, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd"
                          "d\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9");
    CHECK(!o.failed);
    orri_buf_free(&o.buf);
}

static void test_ticks(void)
{
    double t[16], lo = 0, hi = 0.31;
    size_t n = orri_svg_ticks(&lo, &hi, 3, t, 16);
    CHECK_INT((long)n, 5);
    CHECK_NEAR(t[0], 0, 1e-12);
    CHECK_NEAR(t[n - 1], 0.4, 1e-12);
    CHECK_NEAR(hi, 0.4, 1e-12);
    CHECK_NEAR(t[3], 0.3, 0);
    /* A flat series still gets an axis. */
    lo = hi = 5;
    n = orri_svg_ticks(&lo, &hi, 3, t, 16);
    CHECK(n >= 2 && lo < 5 && hi > 5);
    /* Non-finite input falls back to [0, 1]. */
    lo = NAN;
    hi = INFINITY;
    n = orri_svg_ticks(&lo, &hi, 4, t, 16);
    CHECK(n >= 2 && lo == 0 && hi == 1);
    /* The cap holds. */
    lo = 0;
    hi = 1000;
    CHECK_INT((long)orri_svg_ticks(&lo, &hi, 100, t, 4), 4);
}

static void test_num(void)
{
    char b[32];
    orri_svg_num(b, sizeof b, 0.31, 0);
    CHECK_STR(b, "0.31");
    orri_svg_num(b, sizeof b, 123456, 0);
    CHECK_STR(b, "123k");
    orri_svg_num(b, sizeof b, 2.5e9, 0);
    CHECK_STR(b, "2.5G");
    orri_svg_num(b, sizeof b, 0.667, 1);
    CHECK_STR(b, "67%");
    orri_svg_num(b, sizeof b, 0.012, 1);
    CHECK_STR(b, "1.2%");
    orri_svg_num(b, sizeof b, NAN, 0);
    CHECK_STR(b, "\xe2\x80\x93");
}

static void test_scale(void)
{
    struct orri_scale s = { 0, 10, 100, 0 };
    CHECK_NEAR(orri_scale_map(&s, 5), 50, 1e-12);
    CHECK_NEAR(orri_scale_map(&s, -3), 100, 1e-12);
    CHECK_NEAR(orri_scale_map(&s, 99), 0, 1e-12);
    struct orri_scale flat = { 3, 3, 0, 80 };
    CHECK_NEAR(orri_scale_map(&flat, 3), 40, 1e-12);
}

/* One window, one feature without histograms, an escape sequence in its
 * name: every renderer copes. */
static void test_minimal_report(void)
{
    struct orri_report_window w = { .id = 7, .version = "3",
        .monitor = "drift", .start_ms = 0, .end_ms = 3600000,
        .n_rows = 10, .status = "ok", .drift_share = NAN,
        .drift_share_threshold = NAN };
    double h = 0.2, ht = 0.1;
    unsigned char ha = 1;
    struct orri_report_feature f = { .name = "evil\033[2Jname",
        .method = "psi", .score = 0.2, .threshold = 0.1, .drifted = 1,
        .missing_rate = NAN, .history = &h, .history_threshold = &ht,
        .history_alert = &ha };
    struct orri_report r = { .model = "m", .windows = &w, .n_windows = 1,
                             .features = &f, .n_features = 1 };
    char *html = NULL;
    struct orr_error e = {0};
    CHECK_INT(orri_report_html(&r, &html, &e), ORR_OK);
    CHECK_CONTAINS(html, "no distribution stored");
    CHECK_CONTAINS(html, "evil\xef\xbf\xbd[2Jname");
    CHECK(!strchr(html, '\033'));
    free(html);
    char *text = NULL;
    size_t len = 0;
    FILE *f_out = open_memstream(&text, &len);
    CHECK(f_out != NULL);
    CHECK_INT(orri_report_text(&r, f_out, 0), ORR_OK);
    fclose(f_out);
    CHECK_CONTAINS(text, "evil?[2Jname");
    CHECK(!strchr(text, '\033'));
    free(text);
    struct orri_report empty = { .model = "m" };
    CHECK_INT(orri_report_html(&empty, &html, &e), ORR_ENOTFOUND);
    CHECK(html == NULL);
}

TEST_MAIN({"escape", test_escape}, {"ticks", test_ticks},
          {"num", test_num}, {"scale", test_scale},
          {"minimal_report", test_minimal_report})
