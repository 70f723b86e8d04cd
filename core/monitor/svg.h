/*
 * monitor/svg.h - the small pieces the HTML report draws its inline SVG
 * charts with: a markup writer that escapes text and remembers running
 * out of memory (checked once at the end instead of after every line),
 * linear scales, "nice" axis ticks and compact number labels.
 *
 * Nothing here knows about monitoring; report_html.c composes the charts.
 */
#ifndef ORRI_MONITOR_SVG_H
#define ORRI_MONITOR_SVG_H

#include <stddef.h>

#include "util/buf.h"

/* Markup being written.  After an allocation failure every later call is
 * a no-op and `failed` stays set. */
struct orri_svg_out {
    struct orr_buf buf;
    int            failed;
};

void orri_svg_printf(struct orri_svg_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void orri_svg_puts(struct orri_svg_out *o, const char *s);
/* `s` escaped for HTML/SVG text and quoted attribute values: & < > " '
 * become entities, control characters (but tab and newline) and invalid
 * UTF-8 bytes become U+FFFD, so store content can never open markup. */
void orri_svg_text(struct orri_svg_out *o, const char *s);

/* Maps the domain [d0, d1] linearly onto the range [r0, r1]. */
struct orri_scale {
    double d0, d1;
    double r0, r1;
};

/* Position of `x` (clamped to the domain; a zero-width domain maps to
 * the middle of the range). */
double orri_scale_map(const struct orri_scale *s, double x);

/* Up to `cap` ticks covering [lo, hi] at a 1-2-5 step, about `target`
 * of them; the domain is widened to the outer ticks in *lo / *hi.
 * Returns the number written (at least 2 when cap >= 2). */
size_t orri_svg_ticks(double *lo, double *hi, size_t target, double *out,
                      size_t cap);

/* A compact label for `x`: at most 4 significant digits, k/M/G above
 * 10,000, "–" for NaN.  `pct`: x is a share shown as a percentage. */
void orri_svg_num(char *out, size_t cap, double x, int pct);

/* A left axis with horizontal grid lines at `ticks` (y positions through
 * `ys`) from x0 to x1, labelled with orri_svg_num. */
void orri_svg_y_axis(struct orri_svg_out *o, const struct orri_scale *ys,
                     const double *ticks, size_t n, double x0, double x1,
                     int pct);

#endif
