/* Random-weight encoders of any shape, built in memory: the benchmark's models. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "testing/random_encoder.h"

typedef struct rng {
    uint64_t s;
} rng;

static double uniform(rng *r)
{
    r->s ^= r->s << 13, r->s ^= r->s >> 7, r->s ^= r->s << 17;
    return ((double)(r->s >> 11) + 0.5) * 0x1.0p-53;
}

/* n values of mean `mean` and spread `std` (uniform with that standard deviation: fast, and
 * the benchmark needs realistic magnitudes, not a distribution). */
static float *random_array(rng *r, size_t n, float mean, float std)
{
    float *a = malloc(n * sizeof(float));
    for (size_t i = 0; a && i < n; i++)
        a[i] = mean + std * (float)((uniform(r) - 0.5) * 3.4641016151377544);
    return a;
}

static qattn_status random_linear(rng *r, struct qattn_encoder *enc, whisper_linear *l,
                                  int32_t n_out, int32_t n_in, int bias)
{
    l->n_out = n_out, l->n_in = n_in;
    l->w = random_array(r, (size_t)n_out * n_in, 0.0f, 0.02f);
    l->b = bias ? random_array(r, (size_t)n_out, 0.0f, 0.02f) : NULL;
    if (!l->w || (bias && !l->b))
        return qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    return qattn_linear_finish(&enc->run, l, 8);
}

qattn_status qattn_encoder_random(const whisper_config *cfg, const qattn_encoder_params *params,
                                    uint64_t seed, struct qattn_encoder **out)
{
    qattn_clear_error();
    struct qattn_encoder *enc = NULL;
    qattn_status st = qattn_encoder_new("random encoder", cfg, params, &enc);
    if (st != QATTN_OK)
        return st;
    rng r = {seed * 2654435761u + 1};
    const int32_t d = cfg->n_state;
    st = random_linear(&r, enc, &enc->conv1, d, 3 * cfg->n_mels, 1);
    if (st == QATTN_OK)
        st = random_linear(&r, enc, &enc->conv2, d, 3 * d, 1);
    enc->pos = qattn_whisper_sinusoids(cfg->n_ctx, d);
    enc->ln_post_w = random_array(&r, (size_t)d, 1.0f, 0.1f);
    enc->ln_post_b = random_array(&r, (size_t)d, 0.0f, 0.02f);
    enc->layers = calloc((size_t)cfg->n_layers, sizeof *enc->layers);
    if (!enc->pos || !enc->ln_post_w || !enc->ln_post_b || !enc->layers)
        st = qattn_fail(QATTN_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; st == QATTN_OK && i < cfg->n_layers; i++) {
        whisper_layer *L = &enc->layers[i];
        L->attn_ln_w = random_array(&r, (size_t)d, 1.0f, 0.1f);
        L->attn_ln_b = random_array(&r, (size_t)d, 0.0f, 0.02f);
        L->mlp_ln_w = random_array(&r, (size_t)d, 1.0f, 0.1f);
        L->mlp_ln_b = random_array(&r, (size_t)d, 0.0f, 0.02f);
        if (!L->attn_ln_w || !L->attn_ln_b || !L->mlp_ln_w || !L->mlp_ln_b)
            st = qattn_fail(QATTN_ERR_NOMEM, "out of memory");
        if (st == QATTN_OK)
            st = random_linear(&r, enc, &L->qkv, 3 * d, d, 1);
        if (st == QATTN_OK)
            st = random_linear(&r, enc, &L->o, d, d, 1);
        if (st == QATTN_OK)
            st = random_linear(&r, enc, &L->fc1, cfg->n_ffn, d, 1);
        if (st == QATTN_OK)
            st = random_linear(&r, enc, &L->fc2, d, cfg->n_ffn, 1);
    }
    if (st != QATTN_OK) {
        qattn_encoder_free(enc);
        return st;
    }
    *out = enc;
    return QATTN_OK;
}
