/* Token times from cross-attention by dynamic time warping (alignment.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "decode/alignment.h"

static void softmax_rows(float *x, size_t rows, int32_t frames)
{
    for (size_t r = 0; r < rows; r++) {
        float *v = x + r * frames, top = v[0];
        for (int32_t f = 1; f < frames; f++)
            top = v[f] > top ? v[f] : top;
        double sum = 0;
        for (int32_t f = 0; f < frames; f++)
            sum += v[f] = expf(v[f] - top);
        for (int32_t f = 0; f < frames; f++)
            v[f] = (float)(v[f] / sum);
    }
}

/* One head's [rows][frames]: each frame standardized over the rows (CTranslate2 normalizes
 * with a LayerNorm over that axis, epsilon 0). */
static void standardize_frames(float *x, int32_t rows, int32_t frames)
{
    for (int32_t f = 0; f < frames; f++) {
        double sum = 0, sq = 0;
        for (int32_t r = 0; r < rows; r++) {
            const double v = x[(size_t)r * frames + f];
            sum += v, sq += v * v;
        }
        const double mean = sum / rows, var = fmax(sq / rows - mean * mean, 0);
        const double inv = 1 / sqrt(var);
        for (int32_t r = 0; r < rows; r++)
            x[(size_t)r * frames + f] = (float)((x[(size_t)r * frames + f] - mean) * inv);
    }
}

static int compare_floats(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* A row's median filter of `width` (odd) frames, the edges reflected without repeating the
 * edge frame (openai timing.py median_filter: F.pad mode "reflect"); tmp: frames floats. */
static void median_filter_row(float *v, int32_t frames, int32_t width, float *tmp)
{
    const int32_t pad = width / 2;
    if (frames <= pad)
        return;
    memcpy(tmp, v, (size_t)frames * sizeof *tmp);
    float window[64];
    for (int32_t f = 0; f < frames; f++) {
        for (int32_t k = -pad; k <= pad; k++) {
            int32_t i = f + k;
            i = i < 0 ? -i : i >= frames ? 2 * (frames - 1) - i : i;
            window[k + pad] = tmp[i];
        }
        qsort(window, (size_t)width, sizeof *window, compare_floats);
        v[f] = window[pad];
    }
}

/* dtw_cpu on -x ([n][m]) and backtrace: the path's first frame of each row into jump_frames. */
static qattn_status warp(const float *x, int32_t n, int32_t m, int32_t *jump_frames, int32_t *n_jumps)
{
    const size_t w = (size_t)m + 1, cells = ((size_t)n + 1) * w;
    float *cost = malloc(cells * sizeof *cost);
    uint8_t *trace = malloc(cells);
    int32_t *path_row = malloc(((size_t)n + m + 2) * sizeof *path_row);
    int32_t *path_frame = malloc(((size_t)n + m + 2) * sizeof *path_frame);
    if (!cost || !trace || !path_row || !path_frame) {
        free(cost), free(trace), free(path_row), free(path_frame);
        return qattn_fail(QATTN_ERR_NOMEM, "align: out of memory");
    }
    for (size_t i = 0; i < cells; i++)
        cost[i] = INFINITY, trace[i] = 0;
    cost[0] = 0;
    for (size_t j = 1; j <= (size_t)m; j++)
        for (size_t i = 1; i <= (size_t)n; i++) {
            const float c0 = cost[(i - 1) * w + j - 1], c1 = cost[(i - 1) * w + j], c2 = cost[i * w + j - 1];
            float c;
            uint8_t t;
            if (c0 < c1 && c0 < c2)
                c = c0, t = 0;
            else if (c1 < c0 && c1 < c2)
                c = c1, t = 1;
            else
                c = c2, t = 2;
            cost[i * w + j] = -x[(i - 1) * (size_t)m + j - 1] + c;
            trace[i * w + j] = t;
        }
    for (size_t j = 0; j < w; j++)
        trace[j] = 2;
    for (size_t i = 0; i <= (size_t)n; i++)
        trace[i * w] = 1;
    size_t len = 0, i = (size_t)n, j = (size_t)m;
    while (i > 0 || j > 0) { /* from the end back to (0, 0) */
        path_row[len] = (int32_t)i - 1, path_frame[len] = (int32_t)j - 1, len++;
        const uint8_t t = trace[i * w + j];
        if (t == 0)
            i--, j--;
        else if (t == 1)
            i--;
        else
            j--;
    }
    int32_t jumps = 0;
    for (size_t k = len; k-- > 0;) /* in order: a jump where the row changes, and the first */
        if ((k == len - 1 || path_row[k] != path_row[k + 1]) && jumps < n)
            jump_frames[jumps++] = path_frame[k];
    *n_jumps = jumps;
    free(cost), free(trace), free(path_row), free(path_frame);
    return QATTN_OK;
}

qattn_status qattn_align_tokens(float *scores, int32_t heads, int32_t rows, int32_t frames,
                                int32_t first_row, int32_t n_text, int32_t median_width,
                                int32_t *jump_frames, int32_t *n_jumps)
{
    *n_jumps = 0;
    if (heads < 1 || rows < 1 || frames < 1 || first_row < 0 || n_text < 0 ||
        first_row + n_text >= rows || median_width < 1 || median_width % 2 == 0 || median_width > 63)
        return qattn_fail(QATTN_ERR_ARG, "align: %d heads, %d rows from %d (%d text), %d frames, "
                          "median width %d", heads, rows, first_row, n_text, frames, median_width);
    const size_t per_head = (size_t)rows * frames;
    float *mean = calloc((size_t)(n_text + 1) * frames, sizeof *mean), *tmp = malloc((size_t)frames * sizeof *tmp);
    if (!mean || !tmp) {
        free(mean), free(tmp);
        return qattn_fail(QATTN_ERR_NOMEM, "align: out of memory");
    }
    softmax_rows(scores, (size_t)heads * rows, frames);
    for (int32_t h = 0; h < heads; h++) {
        float *x = scores + h * per_head;
        standardize_frames(x, rows, frames);
        for (int32_t r = first_row; r <= first_row + n_text; r++) {
            float *v = x + (size_t)r * frames, *m = mean + (size_t)(r - first_row) * frames;
            median_filter_row(v, frames, median_width, tmp);
            for (int32_t f = 0; f < frames; f++)
                m[f] += v[f];
        }
    }
    for (size_t e = 0; e < (size_t)(n_text + 1) * frames; e++)
        mean[e] /= (float)heads;
    qattn_status st = warp(mean, n_text + 1, frames, jump_frames, n_jumps);
    free(mean), free(tmp);
    return st;
}
