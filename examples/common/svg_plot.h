/* svg_plot.h - standalone SVG charts with no dependency: a line/point chart
 * and a labelled scatter, with "nice" round-number ticks and XML-escaped
 * text. Used by mlp_names --plot-loss / --plot-emb (examples/mlp_plots.c). */
#ifndef SVG_PLOT_H
#define SVG_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SP_MAX_TICKS 16
#define SP_ERR_SIZE 256

/* An axis range widened to round numbers: ticks lo, lo + step, ..., hi. */
typedef struct sp_axis {
    double lo, hi, step;
    int count; /* number of ticks, 2..max_ticks */
} sp_axis;

/* The nice axis covering [lo, hi] with at most max_ticks ticks (3..16;
 * smaller or larger values are clamped: a range across 0 needs 3) at
 * multiples of 1, 2 or 5 times a power of ten. An empty range (lo == hi) is
 * widened around the value; non-finite bounds give the axis 0..1. */
sp_axis sp_nice_axis(double lo, double hi, int max_ticks);

/* Formats tick value v with the fewest decimals that show multiples of step
 * exactly ("0.25", "200000", "-1.5", "0.0" on a 0.5 axis); values within
 * 1e-6 steps of zero print as zero (never "-0"). Returns buf. */
char *sp_tick_label(double v, double step, char *buf, size_t size);

/* Escapes s for XML text and attribute values: & < > " ' become entities,
 * control characters and invalid UTF-8 bytes become U+FFFD, valid UTF-8
 * passes through. Writes at most size bytes including the NUL (truncating
 * only between characters) and returns the full escaped length, as snprintf. */
size_t sp_xml_escape(const char *s, char *out, size_t size);
/* The same, written to f. */
void sp_fput_escaped(FILE *f, const char *s);

enum sp_style { SP_LINE, SP_POINTS };

/* One data series of a chart. NaN y values are skipped (a line breaks). */
typedef struct sp_series {
    const double *x, *y;
    size_t n;
    enum sp_style style;
    const char *color;  /* any SVG colour ("#1f77b4") */
    double width;       /* line width or point radius, in pixels */
    const char *label;  /* legend text, or NULL for none */
} sp_series;

typedef struct sp_chart {
    const char *title, *xlabel, *ylabel;
    const sp_series *series;
    int n_series;
} sp_chart;

/* Writes the chart to path as a standalone SVG (800x500). A line series of
 * more than ~2 points per pixel column is drawn as its per-column min-max
 * envelope, so 200,000 steps stay a small file that looks like the full plot.
 * Returns false with a message in err when the file cannot be written. */
bool sp_write_chart(const char *path, const sp_chart *c, char err[SP_ERR_SIZE]);

/* Writes a scatter of n points (x[i], y[i]), each drawn as a disc with its
 * label centred on it (as matplotlib's scatter + text in the lecture). */
bool sp_write_labelled_scatter(const char *path, const char *title, const char *xlabel, const char *ylabel,
                               const double *x, const double *y, const char *const *labels, size_t n,
                               char err[SP_ERR_SIZE]);

#endif
