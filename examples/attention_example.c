/* One attention call on int8 buffers, checked against a float reference computed here.
 * Build: cc attention_example.c $(pkg-config --cflags --libs qattn) -lm */
#include <math.h>
#include <qattn.h>
#include <stdio.h>
#include <stdlib.h>

enum { L = 64, D = 64 };

int main(void)
{
    static float Q[L][D], K[L][D], V[L][D];
    static int8_t q[L][D], k[L][D], v[L][D], out[L][D];
    srand(1);
    for (int i = 0; i < L; i++)
        for (int t = 0; t < D; t++) {
            Q[i][t] = (float)rand() / RAND_MAX - 0.5f;
            K[i][t] = (float)rand() / RAND_MAX - 0.5f;
            V[i][t] = (float)rand() / RAND_MAX - 0.5f;
        }
    float s_in = 0.5f / 127, s_out = 0.5f / 127; /* |x| <= 0.5, and |out| <= max |V| */
    qattn_quantize_f32(&Q[0][0], L * D, s_in, &q[0][0]);
    qattn_quantize_f32(&K[0][0], L * D, s_in, &k[0][0]);
    qattn_quantize_f32(&V[0][0], L * D, s_in, &v[0][0]);

    qattn_attention_desc desc = qattn_attention_desc_default();
    desc.heads = 1, desc.len_q = L, desc.len_k = L, desc.head_dim = D;
    desc.scale_q = desc.scale_k = desc.scale_v = &s_in, desc.scale_out = &s_out;
    if (qattn_attention_s8(&desc, &q[0][0], &k[0][0], &v[0][0], &out[0][0]) != QATTN_OK) {
        fprintf(stderr, "attention: %s\n", qattn_last_error());
        return 1;
    }

    double worst = 0; /* against float attention on the float inputs, in output LSB */
    for (int i = 0; i < L; i++) {
        double p[L], m = -INFINITY, sum = 0;
        for (int j = 0; j < L; j++) {
            p[j] = 0;
            for (int t = 0; t < D; t++)
                p[j] += (double)Q[i][t] * K[j][t] / sqrt(D);
            m = fmax(m, p[j]);
        }
        for (int j = 0; j < L; j++)
            sum += p[j] = exp(p[j] - m);
        for (int t = 0; t < D; t++) {
            double o = 0;
            for (int j = 0; j < L; j++)
                o += p[j] / sum * V[j][t];
            worst = fmax(worst, fabs(out[i][t] - o / s_out));
        }
    }
    printf("qattn %s: 64x64 attention, max error %.2f LSB against float\n", qattn_version(), worst);
    return worst < 3.0 ? 0 : 1;
}
