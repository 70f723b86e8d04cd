/*
 * monitor/svg.c - markup writer, scales, ticks and labels for the report's
 * inline SVG (svg.h).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "monitor/svg.h"

void orri_svg_printf(struct orri_svg_out *o, const char *fmt, ...)
{
    if (o->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (orri_buf_vprintf(&o->buf, fmt, ap))
        o->failed = 1;
    va_end(ap);
}

void orri_svg_puts(struct orri_svg_out *o, const char *s)
{
    if (!o->failed && orri_buf_puts(&o->buf, s))
        o->failed = 1;
}

/* Length of the valid UTF-8 sequence at `s`, or 0. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2
             : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if (n == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)))
        return 0;
    if (n == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)))
        return 0;
    return n;
}

void orri_svg_text(struct orri_svg_out *o, const char *s)
{
    if (!s)
        return;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && !o->failed) {
        const char *rep = NULL;
        switch (*p) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep) {
            orri_svg_puts(o, rep);
            p++;
            continue;
        }
        if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f) {
            orri_svg_puts(o, "\xef\xbf\xbd");
            p++;
            continue;
        }
        size_t n = utf8_len(p);
        if (n == 0) {
            orri_svg_puts(o, "\xef\xbf\xbd");
            p++;
            continue;
        }
        if (orri_buf_append(&o->buf, p, n))
            o->failed = 1;
        p += n;
    }
}

double orri_scale_map(const struct orri_scale *s, double x)
{
    double span = s->d1 - s->d0;
    if (!(span > 0) || !isfinite(span))
        return (s->r0 + s->r1) / 2;
    if (x < s->d0)
        x = s->d0;
    if (x > s->d1)
        x = s->d1;
    return s->r0 + (x - s->d0) / span * (s->r1 - s->r0);
}

size_t orri_svg_ticks(double *lo, double *hi, size_t target, double *out,
                      size_t cap)
{
    double a = *lo, b = *hi;
    if (!isfinite(a) || !isfinite(b)) {
        a = 0;
        b = 1;
    }
    if (b < a) {
        double t = a;
        a = b;
        b = t;
    }
    if (b - a < 1e-12 * fmax(1.0, fabs(a))) {
        double pad = a == 0 ? 1.0 : fabs(a) * 0.1;
        a -= pad;
        b += pad;
    }
    if (target < 2)
        target = 2;
    double raw = (b - a) / (double)target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double digit = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    double step = digit * mag;
    double k0 = floor(a / step + 1e-9), k1 = ceil(b / step - 1e-9);
    /* k * digit / 10^p rounds to the nearest double of the decimal tick
     * (0.3, not 0.30000000000000004). */
    double inv = mag < 1 ? round(1 / mag) : 0;
    size_t n = 0;
    for (double k = k0; k <= k1 && n < cap; k++)
        out[n++] = k == 0 ? 0.0 : inv > 0 ? k * digit / inv
                                          : k * digit * mag;
    double t0 = n ? out[0] : a, t1 = k1 * step;
    *lo = t0;
    *hi = n ? out[n - 1] : t1;
    return n;
}

void orri_svg_num(char *out, size_t cap, double x, int pct)
{
    if (!isfinite(x)) {
        snprintf(out, cap, "%s", isnan(x) ? "\xe2\x80\x93"
                                          : x > 0 ? "\xe2\x88\x9e"
                                                  : "-\xe2\x88\x9e");
        return;
    }
    if (pct) {
        double p = x * 100;
        snprintf(out, cap, fabs(p) >= 10 || p == round(p) ? "%.0f%%"
                                                          : "%.1f%%", p);
        return;
    }
    double a = fabs(x);
    if (a >= 1e9)
        snprintf(out, cap, "%.3gG", x / 1e9);
    else if (a >= 1e6)
        snprintf(out, cap, "%.3gM", x / 1e6);
    else if (a >= 1e4)
        snprintf(out, cap, "%.3gk", x / 1e3);
    else
        snprintf(out, cap, "%.4g", x);
}

void orri_svg_y_axis(struct orri_svg_out *o, const struct orri_scale *ys,
                     const double *ticks, size_t n, double x0, double x1,
                     int pct)
{
    for (size_t i = 0; i < n; i++) {
        double y = orri_scale_map(ys, ticks[i]);
        char label[32];
        orri_svg_num(label, sizeof label, ticks[i], pct);
        orri_svg_printf(o, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\""
                        " x2=\"%.1f\" y2=\"%.1f\"/>"
                        "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\""
                        " text-anchor=\"end\">%s</text>",
                        x0, y, x1, y, x0 - 4, y + 3.5, label);
    }
}
