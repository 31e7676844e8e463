/* test_plots.c - the pure parts of mlp_names' plots (examples/common/svg_plot.c,
 * pca.c, mlp_plots.c): round-number ticks, XML escaping, PCA on known
 * matrices, the loss history, and labels escaped in a written SVG. The
 * rendering itself is checked by tools/check_svg_render.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlp_plots.h"
#include "pca.h"
#include "svg_plot.h"
#include "test_support.h"

#define SQRT_HALF 0.70710678118654752440

static void assert_axis(sp_axis a, double lo, double hi, double step, int count)
{
    assert_float_equal(a.lo, lo, 1e-12 * fmax(1, fabs(lo)));
    assert_float_equal(a.hi, hi, 1e-12 * fmax(1, fabs(hi)));
    assert_float_equal(a.step, step, 1e-12 * step);
    assert_int_equal(a.count, count);
}

static void nice_axis_known_ranges(void **state)
{
    (void)state;
    assert_axis(sp_nice_axis(0, 200000, 9), 0, 200000, 25000 * 2, 5);  /* 25000 -> 50000 */
    assert_axis(sp_nice_axis(-2.2, 1.43, 9), -2.5, 1.5, 0.5, 9);
    assert_axis(sp_nice_axis(0, 3000, 9), 0, 3000, 500, 7);
    assert_axis(sp_nice_axis(0.31, 0.47, 6), 0.3, 0.5, 0.05, 5);
    assert_axis(sp_nice_axis(1, 1, 9), 0.9, 1.1, 0.05, 5);          /* one value: widened */
    assert_axis(sp_nice_axis(0, 0, 5), -1, 1, 0.5, 5);
    assert_axis(sp_nice_axis(NAN, 3, 5), 0, 1, 0.25 * 2, 3);        /* non-finite -> 0..1 */
    assert_axis(sp_nice_axis(5, -5, 3), -5, 5, 5, 3);               /* reversed bounds */
    assert_axis(sp_nice_axis(-91.7, 54.4, 2), -100, 100, 100, 3);   /* 2 is clamped to 3 */
}

/* Any range: the axis covers it, ends on multiples of the step, the step is
 * 1, 2 or 5 times a power of ten, and there are at most max_ticks ticks. */
static void nice_axis_properties(void **state)
{
    (void)state;
    ts_rand r = ts_rand_new(7);
    for (int i = 0; i < 20000; i++) {
        double scale = pow(10, ts_uniform(&r, -6, 7));
        double lo = ts_uniform(&r, -1, 1) * scale, hi = lo + ts_uniform(&r, 1e-3, 3) * scale;
        int max_ticks = 3 + i % 14;
        sp_axis a = sp_nice_axis(lo, hi, max_ticks);
        /* within rounding noise: a bound a hair past a tick does not add a tick */
        assert_true(a.lo <= lo + 1e-9 * a.step && a.hi >= hi - 1e-9 * a.step);
        assert_true(a.count >= 2 && a.count <= max_ticks);
        double mantissa = a.step / pow(10, floor(log10(a.step)));
        assert_true(fabs(mantissa - 1) < 1e-9 || fabs(mantissa - 2) < 1e-9 || fabs(mantissa - 5) < 1e-9 ||
                    fabs(mantissa - 10) < 1e-9);
        assert_true(fabs(a.lo / a.step - round(a.lo / a.step)) < 1e-6);
        double tol = 1e-9 * (fabs(a.lo) + fabs(a.hi) + a.step);
        assert_true(fabs(a.lo + (a.count - 1) * a.step - a.hi) <= tol);
    }
}

static void tick_labels(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(sp_tick_label(200000, 50000, b, sizeof b), "200000");
    assert_string_equal(sp_tick_label(-1.5, 0.5, b, sizeof b), "-1.5");
    assert_string_equal(sp_tick_label(-2.5 + 5 * 0.5, 0.5, b, sizeof b), "0.0");
    assert_string_equal(sp_tick_label(-1e-17, 0.1, b, sizeof b), "0.0");  /* no "-0.0" */
    assert_string_equal(sp_tick_label(-1e-12, 1000, b, sizeof b), "0");
    assert_string_equal(sp_tick_label(0.75, 0.25, b, sizeof b), "0.75");
    assert_string_equal(sp_tick_label(0.3, 0.05, b, sizeof b), "0.30");
    assert_string_equal(sp_tick_label(4, 2, b, sizeof b), "4");
}

static void xml_escaping(void **state)
{
    (void)state;
    char b[128];
    size_t n = sp_xml_escape("a&b<c>\"d'", b, sizeof b);
    assert_int_equal(n, strlen(b));
    assert_string_equal(b, "a&amp;b&lt;c&gt;&quot;d&apos;");
    sp_xml_escape(".", b, sizeof b);
    assert_string_equal(b, ".");
    sp_xml_escape("x\x01y\tz", b, sizeof b); /* control characters are not XML */
    assert_string_equal(b, "x&#xFFFD;y\tz");
    sp_xml_escape("caf\xc3\xa9", b, sizeof b); /* valid UTF-8 passes */
    assert_string_equal(b, "caf\xc3\xa9");
    sp_xml_escape("a\xff" "b\xc3" "c\xe0\x80\x80", b, sizeof b); /* invalid, truncated, overlong */
    assert_string_equal(b, "a&#xFFFD;b&#xFFFD;c&#xFFFD;&#xFFFD;&#xFFFD;");
    /* truncation stops between characters and still reports the full length */
    assert_int_equal(sp_xml_escape("a&b", b, 6), 7);
    assert_string_equal(b, "a");
    assert_int_equal(sp_xml_escape("a&b", b, 7), 7);
    assert_string_equal(b, "a&amp;");
    assert_int_equal(sp_xml_escape("a&b", NULL, 0), 7);
}

static void eigen_of_known_matrices(void **state)
{
    (void)state;
    double a[4] = {2, 1, 1, 2}, v[4], l[2];
    assert_int_equal(pca_top_eigen(a, 2, 2, v, l), 0);
    assert_float_equal(l[0], 3, 1e-9);
    assert_float_equal(l[1], 1, 1e-9);
    assert_float_equal(v[0], SQRT_HALF, 1e-7);
    assert_float_equal(v[1], SQRT_HALF, 1e-7);
    assert_float_equal(fabs(v[2]), SQRT_HALF, 1e-7);
    assert_float_equal(v[2] + v[3], 0, 1e-7);
    assert_true(v[2] > 0); /* ties: the first largest coordinate is made positive */

    double d[9] = {1, 0, 0, 0, 5, 0, 0, 0, 3}, w[6];
    assert_int_equal(pca_top_eigen(d, 3, 2, w, l), 0);
    assert_float_equal(l[0], 5, 1e-9);
    assert_float_equal(l[1], 3, 1e-9);
    const double e1[3] = {0, 1, 0}, e2[3] = {0, 0, 1};
    for (int i = 0; i < 3; i++) {
        assert_float_equal(w[i], e1[i], 1e-7);
        assert_float_equal(w[3 + i], e2[i], 1e-7);
    }
    assert_int_equal(pca_top_eigen(d, 0, 1, w, l), -1);
    assert_int_equal(pca_top_eigen(d, 3, 3, w, l), -1);
}

/* Points t*a + s*b + m with orthonormal a, b in 4-D and var(t) > var(s):
 * the projections are (t - mean t, s - mean s) up to the documented sign. */
static void pca_recovers_a_known_plane(void **state)
{
    (void)state;
    const double a[4] = {0.6, 0.8, 0, 0}, b[4] = {0, 0, 0.8, -0.6}, m[4] = {1, -2, 3, 0.5};
    enum { NT = 5, NS = 4, N = NT * NS };
    float data[N * 4];
    double t[N], s[N], tm = 0, sm = 0, out[2 * N], var[2];
    /* a full grid of t x s values: t and s are exactly uncorrelated */
    for (int i = 0; i < N; i++) {
        t[i] = -3 + 1.5 * (i / NS), s[i] = -0.6 + 0.4 * (i % NS);
        tm += t[i] / N, sm += s[i] / N;
        for (int j = 0; j < 4; j++)
            data[i * 4 + j] = (float)(t[i] * a[j] + s[i] * b[j] + m[j]);
    }
    assert_int_equal(pca_project2(data, N, 4, out, var), 0);
    double tv = 0, sv = 0;
    for (int i = 0; i < N; i++)
        tv += (t[i] - tm) * (t[i] - tm) / N, sv += (s[i] - sm) * (s[i] - sm) / N;
    assert_float_equal(var[0], tv, 1e-4 * tv);
    assert_float_equal(var[1], sv, 1e-3 * sv);
    /* the largest coordinates of a and b are positive, so no sign flip */
    for (int i = 0; i < N; i++) {
        assert_float_equal(out[2 * i], t[i] - tm, 1e-4);
        assert_float_equal(out[2 * i + 1], s[i] - sm, 1e-4);
    }
    float one_dim[3] = {1, 2, 6};
    assert_int_equal(pca_project2(one_dim, 3, 1, out, var), 0);
    assert_float_equal(out[0], -2, 1e-9);
    assert_float_equal(out[4], 3, 1e-9);
    assert_float_equal(out[1], 0, 0);
    assert_int_equal(pca_project2(one_dim, 0, 1, out, var), -1);
}

static void history_is_preallocated_and_bounded(void **state)
{
    (void)state;
    mp_history h;
    assert_true(mp_history_init(&h, 5, 2));
    assert_int_equal(h.cap, 5);
    assert_int_equal(h.cap_dev, 3); /* steps 0, 2, 4 */
    for (int i = 0; i < 7; i++) {
        if (i % 2 == 0)
            mp_history_add_dev(&h, i, 2.0 + i);
        mp_history_add_loss(&h, 1.0 + i);
    }
    assert_int_equal(h.n, 5);
    assert_int_equal(h.n_dev, 3);
    assert_float_equal(h.loss[4], 5, 0);
    assert_int_equal(h.dev_step[2], 4);
    mp_history_free(&h);
    assert_null(h.loss);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Labels reach the SVG escaped: '.', '&' and '<' as characters of a vocabulary. */
static void embedding_svg_escapes_labels(void **state)
{
    (void)state;
    const float C[] = {0, 0, 1, 2, -1, 0.5f, 2, -1};
    const char *const itos[] = {".", "&", "<", "é"};
    const char *path = ts_temp_file(0, "");
    char err[SP_ERR_SIZE];
    assert_true(mp_write_embedding_svg(path, C, 4, 2, itos, err));
    const char *svg = read_all(path);
    assert_non_null(strstr(svg, ">.</text>"));
    assert_non_null(strstr(svg, ">&amp;</text>"));
    assert_non_null(strstr(svg, ">&lt;</text>"));
    assert_null(strstr(svg, "><</text>"));
    assert_non_null(strstr(svg, ">é</text>")); /* UTF-8 kept as is */
    assert_non_null(strstr(svg, "C[:, 1]"));
    assert_false(mp_write_embedding_svg("/nonexistent-dir/x.svg", C, 4, 2, itos, err));
    assert_non_null(strstr(err, "/nonexistent-dir/x.svg"));
}

static void loss_svg_has_the_three_series(void **state)
{
    (void)state;
    mp_history h;
    assert_true(mp_history_init(&h, 3000, 1000));
    for (int i = 0; i < 3000; i++) {
        if (i % 1000 == 0)
            mp_history_add_dev(&h, i, 2.5);
        mp_history_add_loss(&h, 10.0); /* log10 = 1 */
    }
    const char *path = ts_temp_file(1, "");
    char err[SP_ERR_SIZE];
    assert_true(mp_write_loss_svg(path, &h, err));
    const char *svg = read_all(path);
    assert_non_null(strstr(svg, "batch loss"));
    assert_non_null(strstr(svg, "mean of 1000 steps"));
    assert_non_null(strstr(svg, "dev loss"));
    assert_non_null(strstr(svg, ">3000</text>")); /* the last x tick */
    int circles = 0;
    for (const char *p = svg; (p = strstr(p, "<circle")); p++)
        circles++;
    assert_int_equal(circles, 3 + 1); /* three dev points and the legend's marker */
    mp_history_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nice_axis_known_ranges),
        cmocka_unit_test(nice_axis_properties),
        cmocka_unit_test(tick_labels),
        cmocka_unit_test(xml_escaping),
        cmocka_unit_test(eigen_of_known_matrices),
        cmocka_unit_test(pca_recovers_a_known_plane),
        cmocka_unit_test(history_is_preallocated_and_bounded),
        cmocka_unit_test(embedding_svg_escapes_labels),
        cmocka_unit_test(loss_svg_has_the_three_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
