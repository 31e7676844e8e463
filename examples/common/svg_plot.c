/* svg_plot.c - standalone SVG charts (see svg_plot.h). */
#include "svg_plot.h"

#include "files.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Page geometry in pixels: the plot area is the page minus the margins. */
#define W 800.0
#define H 500.0
#define LEFT 78.0
#define RIGHT 24.0
#define TOP 44.0
#define BOTTOM 58.0
#define FONT "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""

/* ---- ticks --------------------------------------------------------------- */

/* 1, 2, 5 or 10 times a power of ten, the smallest not below x (x > 0). */
static double nice_step_at_least(double x)
{
    double p = pow(10, floor(log10(x))), f = x / p;
    double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return nice * p;
}

sp_axis sp_nice_axis(double lo, double hi, int max_ticks)
{
    if (max_ticks < 3) /* a range across 0 needs 3 (-s, 0, s) */
        max_ticks = 3;
    if (max_ticks > SP_MAX_TICKS)
        max_ticks = SP_MAX_TICKS;
    if (!isfinite(lo) || !isfinite(hi))
        lo = 0, hi = 1;
    if (lo > hi) {
        double t = lo;
        lo = hi, hi = t;
    }
    if (hi - lo < 1e-12 * fmax(1.0, fabs(lo))) { /* one value: centre it */
        double pad = lo == 0 ? 1 : fabs(lo) * 0.1;
        lo -= pad, hi += pad;
    }
    sp_axis a;
    a.step = nice_step_at_least((hi - lo) / (max_ticks - 1));
    for (;;) {
        a.lo = floor(lo / a.step + 1e-9) * a.step;
        a.hi = ceil(hi / a.step - 1e-9) * a.step;
        a.count = (int)llround((a.hi - a.lo) / a.step) + 1;
        if (a.count <= max_ticks || !isfinite(a.step * 10))
            return a;
        a.step = nice_step_at_least(a.step * 1.0001); /* rounding outward added a tick */
    }
}

char *sp_tick_label(double v, double step, char *buf, size_t size)
{
    int decimals = 0; /* the fewest that show the step exactly: 0.25 -> 2, 0.5 -> 1, 5 -> 0 */
    while (decimals < 12 && step > 0) {
        double scaled = step * pow(10, decimals);
        if (fabs(scaled - round(scaled)) < 1e-6 * scaled)
            break;
        decimals++;
    }
    if (fabs(v) < step * 1e-6)
        v = 0; /* no "-0" or "1e-17" at the origin */
    snprintf(buf, size, "%.*f", decimals, v);
    return buf;
}

/* ---- XML escaping ---------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (2..4), or 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!len)
        return 0;
    unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range excludes overlongs and surrogates */
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/* The escaped form of the character at s into out; *used = bytes of s read. */
static size_t escape_one(const unsigned char *s, char out[16], size_t *used)
{
    static const char *const entity[] = {['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;",
                                         ['\''] = "&apos;"};
    *used = 1;
    if (*s < 0x80) {
        const char *e = *s < sizeof entity / sizeof *entity ? entity[*s] : NULL;
        if (e)
            return (size_t)sprintf(out, "%s", e);
        if (*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r')
            return (size_t)sprintf(out, "&#xFFFD;"); /* not allowed in XML 1.0 */
        out[0] = (char)*s;
        return 1;
    }
    size_t len = utf8_sequence(s);
    if (!len)
        return (size_t)sprintf(out, "&#xFFFD;");
    memcpy(out, s, len);
    *used = len;
    return len;
}

size_t sp_xml_escape(const char *s, char *out, size_t size)
{
    size_t total = 0, written = 0, used;
    bool full = false;
    char piece[16];
    for (const unsigned char *p = (const unsigned char *)s; *p; p += used) {
        size_t n = escape_one(p, piece, &used);
        if (out && !full && written + n < size) {
            memcpy(out + written, piece, n);
            written += n;
        } else {
            full = true; /* stop at a character boundary */
        }
        total += n;
    }
    if (out && size > 0)
        out[written] = '\0';
    return total;
}

void sp_fput_escaped(FILE *f, const char *s)
{
    size_t used;
    char piece[16];
    for (const unsigned char *p = (const unsigned char *)s; *p; p += used)
        fwrite(piece, 1, escape_one(p, piece, &used), f);
}

/* ---- drawing ----------------------------------------------------------------- */

typedef struct frame {
    sp_axis x, y;
    FILE *f;
} frame;

static double px(const frame *fr, double x)
{
    return LEFT + (x - fr->x.lo) / (fr->x.hi - fr->x.lo) * (W - LEFT - RIGHT);
}

static double py(const frame *fr, double y)
{
    return H - BOTTOM - (y - fr->y.lo) / (fr->y.hi - fr->y.lo) * (H - TOP - BOTTOM);
}

static void text(FILE *f, double x, double y, const char *anchor, int size, const char *extra, const char *s)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\" %s %s>", x, y, anchor, size, FONT,
            extra);
    sp_fput_escaped(f, s);
    fputs("</text>\n", f);
}

static void begin_page(FILE *f, const char *title)
{
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n"
               "<title>",
            W, H, W, H);
    sp_fput_escaped(f, title ? title : "");
    fputs("</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n", f);
    text(f, W / 2, 26, "middle", 16, "", title ? title : "");
}

/* Grid lines, the frame, tick labels and axis labels. */
static void draw_axes(const frame *fr, const char *xlabel, const char *ylabel)
{
    FILE *f = fr->f;
    char buf[64];
    fputs("<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n", f);
    for (int i = 0; i < fr->x.count; i++) {
        double x = px(fr, fr->x.lo + i * fr->x.step);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, TOP, x, H - BOTTOM);
    }
    for (int i = 0; i < fr->y.count; i++) {
        double y = py(fr, fr->y.lo + i * fr->y.step);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", LEFT, y, W - RIGHT, y);
    }
    fputs("</g>\n", f);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n", LEFT,
            TOP, W - LEFT - RIGHT, H - TOP - BOTTOM);
    for (int i = 0; i < fr->x.count; i++) {
        double v = fr->x.lo + i * fr->x.step;
        text(f, px(fr, v), H - BOTTOM + 18, "middle", 12, "", sp_tick_label(v, fr->x.step, buf, sizeof buf));
    }
    for (int i = 0; i < fr->y.count; i++) {
        double v = fr->y.lo + i * fr->y.step;
        text(f, LEFT - 8, py(fr, v) + 4, "end", 12, "", sp_tick_label(v, fr->y.step, buf, sizeof buf));
    }
    text(f, LEFT + (W - LEFT - RIGHT) / 2, H - 14, "middle", 14, "", xlabel ? xlabel : "");
    snprintf(buf, sizeof buf, "transform=\"rotate(-90 %.1f %.1f)\"", 20.0, TOP + (H - TOP - BOTTOM) / 2);
    text(f, 20, TOP + (H - TOP - BOTTOM) / 2, "middle", 14, buf, ylabel ? ylabel : "");
}

/* A polyline through the finite points; NaN breaks it into pieces. Dense
 * series become a per-pixel-column min-max envelope. */
static void draw_line(const frame *fr, const sp_series *s)
{
    FILE *f = fr->f;
    size_t per_column = (size_t)ceil((double)s->n / (W - LEFT - RIGHT) / 2.0);
    if (per_column < 1)
        per_column = 1;
    bool open = false;
    for (size_t i = 0; i < s->n; i += per_column) {
        double lo = INFINITY, hi = -INFINITY, x = s->x[i];
        for (size_t j = i; j < i + per_column && j < s->n; j++)
            if (isfinite(s->y[j]))
                lo = fmin(lo, s->y[j]), hi = fmax(hi, s->y[j]);
        if (!(lo <= hi)) {
            if (open)
                fputs("\"/>\n", f);
            open = false;
            continue;
        }
        if (!open)
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.2f\" stroke-linejoin=\"round\" points=\"",
                    s->color, s->width);
        fprintf(f, "%.1f,%.1f ", px(fr, x), py(fr, lo));
        if (hi > lo)
            fprintf(f, "%.1f,%.1f ", px(fr, x), py(fr, hi));
        open = true;
    }
    if (open)
        fputs("\"/>\n", f);
}

static void draw_points(const frame *fr, const sp_series *s)
{
    fprintf(fr->f, "<g fill=\"%s\">\n", s->color);
    for (size_t i = 0; i < s->n; i++)
        if (isfinite(s->x[i]) && isfinite(s->y[i]))
            fprintf(fr->f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.2f\"/>\n", px(fr, s->x[i]), py(fr, s->y[i]),
                    s->width);
    fputs("</g>\n", fr->f);
}

static void draw_legend(FILE *f, const sp_chart *c)
{
    double y = TOP + 18;
    for (int i = 0; i < c->n_series; i++) {
        const sp_series *s = &c->series[i];
        if (!s->label)
            continue;
        double x = W - RIGHT - 190;
        if (s->style == SP_LINE)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>\n", x,
                    y - 4, x + 24, y - 4, s->color);
        else
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n", x + 12, y - 4, s->color);
        text(f, x + 32, y, "start", 12, "", s->label);
        y += 18;
    }
}

/* Smallest and largest finite values of n doubles, into lo and hi (NaN when none). */
static void finite_range(const double *v, size_t n, double *lo, double *hi)
{
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            *lo = isnan(*lo) ? v[i] : fmin(*lo, v[i]);
            *hi = isnan(*hi) ? v[i] : fmax(*hi, v[i]);
        }
}

static bool finish(FILE *f, const char *path, char err[SP_ERR_SIZE])
{
    fputs("</svg>\n", f);
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed) {
        snprintf(err, SP_ERR_SIZE, "%s: write error", path);
        return false;
    }
    return true;
}

static FILE *open_page(const char *path, char err[SP_ERR_SIZE]) { return ex_open_output(path, err, SP_ERR_SIZE); }

bool sp_write_chart(const char *path, const sp_chart *c, char err[SP_ERR_SIZE])
{
    double xlo = NAN, xhi = NAN, ylo = NAN, yhi = NAN;
    for (int i = 0; i < c->n_series; i++) {
        finite_range(c->series[i].x, c->series[i].n, &xlo, &xhi);
        finite_range(c->series[i].y, c->series[i].n, &ylo, &yhi);
    }
    FILE *f = open_page(path, err);
    if (!f)
        return false;
    frame fr = {.x = sp_nice_axis(xlo, xhi, 9), .y = sp_nice_axis(ylo, yhi, 9), .f = f};
    begin_page(f, c->title);
    draw_axes(&fr, c->xlabel, c->ylabel);
    for (int i = 0; i < c->n_series; i++)
        (c->series[i].style == SP_LINE ? draw_line : draw_points)(&fr, &c->series[i]);
    draw_legend(f, c);
    return finish(f, path, err);
}

bool sp_write_labelled_scatter(const char *path, const char *title, const char *xlabel, const char *ylabel,
                               const double *x, const double *y, const char *const *labels, size_t n,
                               char err[SP_ERR_SIZE])
{
    double xlo = NAN, xhi = NAN, ylo = NAN, yhi = NAN;
    finite_range(x, n, &xlo, &xhi);
    finite_range(y, n, &ylo, &yhi);
    /* a margin so the discs at the extremes stay inside the frame */
    double mx = isfinite(xhi - xlo) ? (xhi - xlo) * 0.06 : 0, my = isfinite(yhi - ylo) ? (yhi - ylo) * 0.06 : 0;
    FILE *f = open_page(path, err);
    if (!f)
        return false;
    frame fr = {.x = sp_nice_axis(xlo - mx, xhi + mx, 9), .y = sp_nice_axis(ylo - my, yhi + my, 9), .f = f};
    begin_page(f, title);
    draw_axes(&fr, xlabel, ylabel);
    /* discs first, then every label on top, so crowded points stay legible */
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i]))
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"11\" fill=\"#1f77b4\" fill-opacity=\"0.85\"/>\n",
                    px(&fr, x[i]), py(&fr, y[i]));
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i]))
            text(f, px(&fr, x[i]), py(&fr, y[i]) + 4.5, "middle", 13, "fill=\"white\" font-weight=\"bold\"", labels[i]);
    return finish(f, path, err);
}
