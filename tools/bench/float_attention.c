/* Compiled with -O3 -mavx2 -mfma -ffast-math: the softmax loop vectorizes, expf included
 * (glibc's libmvec), as a user's code would with those flags. */
#include "bench/float_attention.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "core/parallel.h"

typedef struct job {
    const float *q, *k, *v;
    float *out;
    int heads, len_q, len_k, d, causal, chunks;
    float **scores; /* per worker: 64 x len_k */
} job;

static void softmax_rows(float *s, int rows, int len_k, int row0, int causal)
{
    for (int i = 0; i < rows; i++) {
        float *r = s + (size_t)i * len_k;
        int n = causal && row0 + i + 1 < len_k ? row0 + i + 1 : len_k;
        float m = r[0];
        for (int j = 1; j < n; j++)
            m = r[j] > m ? r[j] : m;
        float sum = 0.0f;
        for (int j = 0; j < n; j++) {
            r[j] = expf(r[j] - m);
            sum += r[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < n; j++)
            r[j] *= inv;
        for (int j = n; j < len_k; j++)
            r[j] = 0.0f;
    }
}

static void chunk_task(void *ctx, int64_t item, int worker)
{
    const job *j = ctx;
    int h = (int)(item / j->chunks), row0 = (int)(item % j->chunks) * 64;
    int rows = j->len_q - row0 < 64 ? j->len_q - row0 : 64;
    const float *q = j->q + ((size_t)h * j->len_q + row0) * j->d;
    const float *k = j->k + (size_t)h * j->len_k * j->d;
    const float *v = j->v + (size_t)h * j->len_k * j->d;
    float *s = j->scores[worker];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, j->len_k, j->d,
                1.0f / sqrtf((float)j->d), q, j->d, k, j->d, 0.0f, s, j->len_k);
    softmax_rows(s, rows, j->len_k, row0, j->causal);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, j->d, j->len_k, 1.0f, s,
                j->len_k, v, j->d, 0.0f, j->out + ((size_t)h * j->len_q + row0) * j->d, j->d);
}

int bench_float_attention(const float *q, const float *k, const float *v, float *out, int heads,
                          int len_q, int len_k, int d, int causal, int threads)
{
    job j = {q, k, v, out, heads, len_q, len_k, d, causal, (len_q + 63) / 64, NULL};
    int64_t items = (int64_t)heads * j.chunks;
    int workers = qattn_workers_for(threads, items);
    j.scores = calloc((size_t)workers, sizeof *j.scores);
    int ok = j.scores != NULL;
    for (int w = 0; ok && w < workers; w++)
        ok = (j.scores[w] = malloc((size_t)64 * len_k * sizeof(float))) != NULL;
    openblas_set_num_threads(1);
    if (ok)
        qattn_parallel_for(workers, items, chunk_task, &j);
    for (int w = 0; j.scores && w < workers; w++)
        free(j.scores[w]);
    free(j.scores);
    return ok;
}
