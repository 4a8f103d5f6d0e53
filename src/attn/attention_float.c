/*
 * Float convenience over the integer kernel: per-head max-abs quantization in, the int8
 * kernel, dequantization out. The output scale is the head's V scale: an output row is a
 * convex combination of V rows, so |o| <= max |v| <= 127 and nothing saturates.
 */
#include <math.h>
#include <stdlib.h>

#include "attn/attention.h"
#include "core/error.h"
#include "core/quantize.h"

/* Scale max|x| / 127 of one head (1 for an all-zero head); 0 if x has a non-finite value. */
static float head_scale(const float *x, size_t n)
{
    float amax = 0.0f;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return 0.0f;
        float a = fabsf(x[i]);
        if (a > amax)
            amax = a;
    }
    return amax > 0.0f ? amax / 127.0f : 1.0f;
}

static int quantize_heads(const float *x, int8_t *out, float *scales, int32_t heads,
                          size_t per_head)
{
    for (int32_t h = 0; h < heads; h++) {
        const float *xh = x + (size_t)h * per_head;
        scales[h] = head_scale(xh, per_head);
        if (scales[h] == 0.0f)
            return 0;
        for (size_t i = 0; i < per_head; i++)
            out[(size_t)h * per_head + i] = qattn_quantize_s8(xh[i], scales[h]);
    }
    return 1;
}

qattn_status qattn_attention_f32(const qattn_attention_desc *caller, const float *q,
                                 const float *k, const float *v, float *out)
{
    qattn_clear_error();
    qattn_attention_desc full;
    qattn_status st = qattn_attention_read_desc(caller, &full);
    if (st != QATTN_OK)
        return st;
    const qattn_attention_desc *desc = &full;
    size_t q_elems, kv_elems;
    st = qattn_attention_validate(desc, q, k, v, out, &q_elems, &kv_elems);
    if (st != QATTN_OK)
        return st;

    const int32_t heads = desc->heads;
    int8_t *buf = malloc(2 * q_elems + 2 * kv_elems);
    float *scales = malloc(3 * (size_t)heads * sizeof(float));
    if (!buf || !scales) {
        free(buf);
        free(scales);
        return qattn_fail(QATTN_ERR_NOMEM, "attention_float: out of memory");
    }
    int8_t *q8 = buf, *k8 = q8 + q_elems, *v8 = k8 + kv_elems, *o8 = v8 + kv_elems;
    float *sq = scales, *sk = sq + heads, *sv = sk + heads;
    if (!quantize_heads(q, q8, sq, heads, q_elems / (size_t)heads) ||
        !quantize_heads(k, k8, sk, heads, kv_elems / (size_t)heads) ||
        !quantize_heads(v, v8, sv, heads, kv_elems / (size_t)heads)) {
        st = qattn_fail(QATTN_ERR_VALUE, "attention_float: input has a NaN or infinite value");
    } else {
        qattn_attention_desc d = *desc;
        d.scale_q = sq;
        d.scale_k = sk;
        d.scale_v = sv;
        d.scale_out = sv;
        st = qattn_attention_s8(&d, q8, k8, v8, o8);
        if (st == QATTN_OK) {
            const size_t per_head = q_elems / (size_t)heads;
            for (size_t i = 0; i < q_elems; i++)
                out[i] = (float)o8[i] * sv[i / per_head];
        }
    }
    free(buf);
    free(scales);
    return st;
}
