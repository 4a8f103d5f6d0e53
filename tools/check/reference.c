/* Float64 attention written to be read: scores, max subtraction, exp, normalize, times V. */
#include "check/reference.h"

#include <math.h>
#include <stdlib.h>

static void attend_row(const double *qi, const double *k, const double *v, double *oi,
                       int keys, int d, double *p)
{
    double inv_sqrt_d = 1.0 / sqrt((double)d), m = -INFINITY, sum = 0.0;
    for (int j = 0; j < keys; j++) {
        double s = 0.0;
        for (int t = 0; t < d; t++)
            s += qi[t] * k[(size_t)j * d + t];
        p[j] = s * inv_sqrt_d;
        if (p[j] > m)
            m = p[j];
    }
    for (int j = 0; j < keys; j++) {
        p[j] = exp(p[j] - m);
        sum += p[j];
    }
    for (int t = 0; t < d; t++)
        oi[t] = 0.0;
    for (int j = 0; j < keys; j++)
        for (int t = 0; t < d; t++)
            oi[t] += p[j] / sum * v[(size_t)j * d + t];
}

int check_attention_f64(const double *q, const double *k, const double *v, double *out,
                        int heads, int len_q, int len_k, int d, int causal, int kv_len)
{
    double *p = malloc((size_t)len_k * sizeof *p);
    if (!p)
        return 0;
    for (int h = 0; h < heads; h++) {
        const double *qh = q + (size_t)h * len_q * d;
        const double *kh = k + (size_t)h * len_k * d;
        const double *vh = v + (size_t)h * len_k * d;
        for (int i = 0; i < len_q; i++) {
            int keys = kv_len;
            int last = causal == 2 ? i + kv_len - len_q : i; /* bottom-right, top-left */
            if (causal && last + 1 < keys)
                keys = last + 1;
            attend_row(qh + (size_t)i * d, kh, vh, out + ((size_t)h * len_q + i) * d, keys, d, p);
        }
    }
    free(p);
    return 1;
}
