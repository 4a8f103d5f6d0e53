/*
 * The Whisper encoder's forward pass, top to bottom (openai/whisper model.py AudioEncoder):
 *
 *   x = GELU(conv1(mel)); x = GELU(conv2(x)) (stride 2); x += positional embedding
 *   per layer: x += out(attention(q(LN(x)), k(LN(x)), v(LN(x))))
 *              x += fc2(GELU(fc1(LN(x))))
 *   x = LN(x)
 *
 * The convolutions are GEMMs over im2col columns. The linear layers and the attention run
 * in the encoder's precision (float, or INT8 GEMMs and the integer attention kernel); the
 * LayerNorms, GELUs and residuals are float in both. Nothing here knows instruction sets.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/parallel.h"
#include "core/quantize.h"
#include "whisper/model.h"
#include "whisper/profile.h"

const char *const qattn_encoder_stage_names[WHISPER_STAGE_COUNT] = {"conv", "qkv/out", "attention",
                                                              "mlp", "norm/gelu"};

/* Stage timing: charge() adds the time since *mark to a stage and moves the mark. */
typedef struct timer {
    double *stage_ms; /* NULL: not timing */
    double mark;
} timer;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static void charge(timer *tm, whisper_stage stage)
{
    if (!tm->stage_ms)
        return;
    double t = now_ms();
    tm->stage_ms[stage] += t - tm->mark;
    tm->mark = t;
}

enum { ROWS_PER_TASK = 16 };

/* Working memory of one window. */
typedef struct state {
    float *col1;  /* [2 n_ctx][3 n_mels] */
    float *y1;    /* [2 n_ctx][d] */
    float *col2;  /* [n_ctx][3 d] */
    float *x;     /* [n_ctx][d] residual stream */
    float *h;     /* [n_ctx][d] normalized */
    float *qkv;   /* [n_ctx][3 d]: q, k, v side by side */
    float *a;     /* [n_ctx][d] attention output */
    float *mlp;   /* [n_ctx][n_ffn] */
    float *scores;        /* f32: [n_ctx][n_ctx] */
    int8_t *q8, *k8, *v8, *o8; /* int8: [heads][n_ctx][head_dim] */
} state;

/* A row-parallel loop: fn(ctx, first_row, rows). */
typedef void (*rows_fn)(void *ctx, int32_t row0, int32_t rows);
typedef struct rows_job {
    rows_fn fn;
    void *ctx;
    int32_t m;
} rows_job;

static void rows_task(void *ctx, int64_t item, int worker)
{
    (void)worker;
    const rows_job *j = ctx;
    int32_t r0 = (int32_t)item * ROWS_PER_TASK;
    j->fn(j->ctx, r0, j->m - r0 < ROWS_PER_TASK ? j->m - r0 : ROWS_PER_TASK);
}

static void parallel_rows(int32_t threads, int32_t m, rows_fn fn, void *ctx)
{
    rows_job j = {fn, ctx, m};
    int64_t items = (m + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
    qattn_parallel_for(qattn_workers_for(threads, items), items, rows_task, &j);
}

qattn_status qattn_linear_run(const struct qattn_encoder *enc, const whisper_linear *l,
                                const float *x, int32_t m, float *y)
{
    if (enc->precision == QATTN_PRECISION_INT8)
        return qattn_gemm_run(&l->q, x, m, l->n_in, y, l->n_out, enc->threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, l->n_out, l->n_in, 1.0f, x, l->n_in,
                l->w, l->n_in, 0.0f, y, l->n_out);
    if (l->b)
        for (int32_t i = 0; i < m; i++)
            for (int32_t j = 0; j < l->n_out; j++)
                y[(size_t)i * l->n_out + j] += l->b[j];
    return QATTN_OK;
}

/* --- LayerNorm (eps 1e-5, as Whisper), GELU (erf form, as torch's default) --------------- */

typedef struct norm_job {
    const float *x, *w, *b;
    float *y;
    int32_t d;
} norm_job;

static void norm_rows(void *ctx, int32_t row0, int32_t rows)
{
    const norm_job *j = ctx;
    for (int32_t i = row0; i < row0 + rows; i++) {
        const float *xi = j->x + (size_t)i * j->d;
        float *yi = j->y + (size_t)i * j->d;
        double mean = 0.0, var = 0.0;
        for (int32_t t = 0; t < j->d; t++)
            mean += xi[t];
        mean /= j->d;
        for (int32_t t = 0; t < j->d; t++)
            var += (xi[t] - mean) * (xi[t] - mean);
        float inv = (float)(1.0 / sqrt(var / j->d + 1e-5));
        for (int32_t t = 0; t < j->d; t++)
            yi[t] = (float)(xi[t] - mean) * inv * j->w[t] + j->b[t];
    }
}

static void layer_norm(const struct qattn_encoder *enc, const float *x, const float *w,
                       const float *b, float *y, int32_t m)
{
    norm_job j = {x, w, b, y, enc->cfg.n_state};
    parallel_rows(enc->threads, m, norm_rows, &j);
}

typedef struct gelu_job {
    float *x;
    int32_t n;
} gelu_job;

/*
 * erf(x) = x P(x^2) / Q(x^2) on |x| <= 4, and x clamped to +-4 beyond (erf(4) = 1 - 1.5e-8):
 * a rational fit made for this project (least squares with Loeb's reweighting; 3.7e-7
 * absolute error in float32 against math.erf). Pure arithmetic, so the GELU loop vectorizes;
 * libm's erff is a call per element.
 */
static inline float erf_rational(float x)
{
    float c = x;
    if (c > 4.0f)
        c = 4.0f;
    if (c < -4.0f)
        c = -4.0f;
    float z = c * c;
    float p = 1.96679305e-08f;
    p = p * z - 1.97751571e-06f;
    p = p * z + 1.48224583e-04f;
    p = p * z + 3.96561788e-03f;
    p = p * z + 5.13860058e-02f;
    p = p * z + 2.06113619e-01f;
    p = p * z + 1.12837882e+00f;
    float q = 1.02047e-03f;
    q = q * z + 1.488066e-02f;
    q = q * z + 1.1755334e-01f;
    q = q * z + 5.159926e-01f;
    q = q * z + 1.0f;
    return c * p / q; /* within 4e-7 of +-1 at the ends: no clamp needed */
}

static void gelu_rows(void *ctx, int32_t row0, int32_t rows)
{
    const gelu_job *j = ctx;
    for (size_t i = (size_t)row0 * j->n; i < (size_t)(row0 + rows) * j->n; i++)
        j->x[i] = 0.5f * j->x[i] * (1.0f + erf_rational(j->x[i] * 0.70710678118654752f));
}

static void gelu(const struct qattn_encoder *enc, float *x, int32_t m, int32_t n)
{
    gelu_job j = {x, n};
    parallel_rows(enc->threads, m, gelu_rows, &j);
}

/* --- Convolutions as GEMMs over im2col columns ------------------------------------------- */

/* col[t][c * 3 + kk] = in(c, stride * t + kk - 1), zero outside; `in` is channel-major
 * (mel: [channels][frames]) or time-major ([frames][channels]). */
static void im2col(const float *in, int channel_major, int32_t channels, int32_t frames,
                   int32_t stride, int32_t out_frames, float *col)
{
    for (int32_t t = 0; t < out_frames; t++)
        for (int32_t c = 0; c < channels; c++)
            for (int32_t kk = 0; kk < 3; kk++) {
                int32_t s = stride * t + kk - 1;
                float v = 0.0f;
                if (s >= 0 && s < frames)
                    v = channel_major ? in[(size_t)c * frames + s] : in[(size_t)s * channels + c];
                col[((size_t)t * channels + c) * 3 + kk] = v;
            }
}

/* --- Attention ---------------------------------------------------------------------------- */

/*
 * e^x for x <= 0 (softmax arguments), vectorizable: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite
 * split of ln2), e^r by a degree-6 polynomial fitted for this project (relative error 1e-7 in
 * float32), 2^n from the exponent bits. x below -87 is clamped (e^-87 ~ 1.6e-38, and the row
 * maximum contributes 1 to each sum).
 */
static inline float exp_nonpositive(float x)
{
    if (x < -87.0f)
        x = -87.0f;
    float n = x * 1.44269504088896341f + 12582912.0f; /* round to nearest */
    n -= 12582912.0f;
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-06f;
    float p = 0.00138248f;
    p = p * r + 0.00837155f;
    p = p * r + 0.04166823f;
    p = p * r + 0.16666461f;
    p = p * r + 0.49999993f;
    p = p * r + 1.00000003f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

typedef struct softmax_job {
    float *s;
    int32_t n;
} softmax_job;

/* Eight running lanes for the max and the sum: a sequential float reduction does not
 * vectorize (its order is fixed), eight independent ones do. */
enum { LANES = 8 };

static void softmax_rows(void *ctx, int32_t row0, int32_t rows)
{
    const softmax_job *j = ctx;
    for (int32_t i = row0; i < row0 + rows; i++) {
        float *r = j->s + (size_t)i * j->n;
        float mx[LANES], sum[LANES] = {0};
        int32_t t = 0;
        for (int l = 0; l < LANES; l++)
            mx[l] = r[0];
        for (; t + LANES <= j->n; t += LANES)
            for (int l = 0; l < LANES; l++)
                mx[l] = r[t + l] > mx[l] ? r[t + l] : mx[l];
        float m = mx[0];
        for (int l = 1; l < LANES; l++)
            m = mx[l] > m ? mx[l] : m;
        for (; t < j->n; t++)
            m = r[t] > m ? r[t] : m;
        for (t = 0; t < j->n; t++)
            r[t] = exp_nonpositive(r[t] - m);
        for (t = 0; t + LANES <= j->n; t += LANES)
            for (int l = 0; l < LANES; l++)
                sum[l] += r[t + l];
        float total = 0.0f;
        for (int l = 0; l < LANES; l++)
            total += sum[l];
        for (; t < j->n; t++)
            total += r[t];
        float inv = 1.0f / total;
        for (t = 0; t < j->n; t++)
            r[t] *= inv;
    }
}

static void attention_f32(const struct qattn_encoder *enc, state *s)
{
    const int32_t n = enc->cfg.n_ctx, d = enc->cfg.n_state, hd = d / enc->cfg.n_heads;
    const float *q = s->qkv, *k = s->qkv + d, *v = s->qkv + 2 * d;
    for (int32_t h = 0; h < enc->cfg.n_heads; h++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, hd, 1.0f / sqrtf((float)hd),
                    q + h * hd, 3 * d, k + h * hd, 3 * d, 0.0f, s->scores, n);
        softmax_job j = {s->scores, n};
        parallel_rows(enc->threads, n, softmax_rows, &j);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, n, 1.0f, s->scores, n,
                    v + h * hd, 3 * d, 0.0f, s->a + h * hd, d);
    }
}

/* One head's columns of x ([n] rows, ld floats apart) as int8 [n][hd] with a max-abs scale. */
static float quantize_head(const float *x, int32_t n, int32_t ld, int32_t h, int32_t hd, int8_t *out)
{
    float amax = 0.0f;
    for (int32_t i = 0; i < n; i++) {
        float a = qattn_max_abs(x + (size_t)i * ld + h * hd, (size_t)hd);
        amax = a > amax ? a : amax;
    }
    float scale = amax > 0.0f ? amax / 127.0f : 1.0f;
    for (int32_t i = 0; i < n; i++)
        for (int32_t t = 0; t < hd; t++)
            out[(size_t)i * hd + t] = qattn_quantize_s8(x[(size_t)i * ld + h * hd + t], scale);
    return scale;
}

/* Per-head quantization of Q, K, V and dequantization of the output, one head per task. */
typedef struct heads_job {
    state *s;
    int32_t n, d, hd;
    float *sq, *sk, *sv; /* [heads] scales */
    int dequantize;
} heads_job;

static void heads_task(void *ctx, int64_t item, int worker)
{
    (void)worker;
    const heads_job *j = ctx;
    const int32_t h = (int32_t)item, n = j->n, d = j->d, hd = j->hd;
    const size_t off = (size_t)h * n * hd;
    state *s = j->s;
    if (!j->dequantize) {
        j->sq[h] = quantize_head(s->qkv, n, 3 * d, h, hd, s->q8 + off);
        j->sk[h] = quantize_head(s->qkv + d, n, 3 * d, h, hd, s->k8 + off);
        j->sv[h] = quantize_head(s->qkv + 2 * d, n, 3 * d, h, hd, s->v8 + off);
        return;
    }
    for (int32_t i = 0; i < n; i++)
        for (int32_t t = 0; t < hd; t++)
            s->a[(size_t)i * d + h * hd + t] = s->o8[off + (size_t)i * hd + t] * j->sv[h];
}

/* Per-head max-abs int8 Q, K, V; the integer kernel with the output scale of V (an output
 * row is a convex combination of V rows: it never saturates). */
static qattn_status attention_int8(const struct qattn_encoder *enc, state *s)
{
    const int32_t n = enc->cfg.n_ctx, d = enc->cfg.n_state, heads = enc->cfg.n_heads;
    float *scales = malloc(3 * (size_t)heads * sizeof(float));
    if (!scales)
        return qattn_fail(QATTN_ERR_NOMEM, "encoder: out of memory");
    heads_job j = {s, n, d, d / heads, scales, scales + heads, scales + 2 * heads, 0};
    const int workers = qattn_workers_for(enc->threads, heads);
    qattn_parallel_for(workers, heads, heads_task, &j);
    qattn_attention_desc desc = qattn_attention_desc_default();
    desc.heads = heads, desc.len_q = desc.len_k = n, desc.head_dim = j.hd;
    desc.scale_q = j.sq, desc.scale_k = j.sk, desc.scale_v = j.sv, desc.scale_out = j.sv;
    desc.threads = enc->threads, desc.isa = enc->isa;
    qattn_status st = qattn_attention_s8(&desc, s->q8, s->k8, s->v8, s->o8);
    if (st == QATTN_OK) {
        j.dequantize = 1;
        qattn_parallel_for(workers, heads, heads_task, &j);
    }
    free(scales);
    return st;
}

/* --- The forward pass of one window -------------------------------------------------------- */

static void add_into(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

static qattn_status forward(const struct qattn_encoder *enc, const float *mel, state *s,
                            float *out, timer *tm)
{
    const whisper_config *c = &enc->cfg;
    const int32_t n = c->n_ctx, d = c->n_state;
    const size_t nd = (size_t)n * d;
    qattn_status st;

    im2col(mel, 1, c->n_mels, 2 * n, 1, 2 * n, s->col1);
    if ((st = qattn_linear_run(enc, &enc->conv1, s->col1, 2 * n, s->y1)))
        return st;
    charge(tm, WHISPER_STAGE_CONV);
    gelu(enc, s->y1, 2 * n, d);
    charge(tm, WHISPER_STAGE_NORM);
    im2col(s->y1, 0, d, 2 * n, 2, n, s->col2);
    if ((st = qattn_linear_run(enc, &enc->conv2, s->col2, n, s->x)))
        return st;
    charge(tm, WHISPER_STAGE_CONV);
    gelu(enc, s->x, n, d);
    add_into(s->x, enc->pos, nd);
    charge(tm, WHISPER_STAGE_NORM);

    for (int32_t l = 0; l < c->n_layers; l++) {
        const whisper_layer *L = &enc->layers[l];
        layer_norm(enc, s->x, L->attn_ln_w, L->attn_ln_b, s->h, n);
        charge(tm, WHISPER_STAGE_NORM);
        if ((st = qattn_linear_run(enc, &L->qkv, s->h, n, s->qkv)))
            return st;
        charge(tm, WHISPER_STAGE_PROJ);
        if (enc->precision == QATTN_PRECISION_INT8) {
            if ((st = attention_int8(enc, s)))
                return st;
        } else {
            attention_f32(enc, s);
        }
        charge(tm, WHISPER_STAGE_ATTENTION);
        if ((st = qattn_linear_run(enc, &L->o, s->a, n, s->h)))
            return st;
        charge(tm, WHISPER_STAGE_PROJ);
        add_into(s->x, s->h, nd);
        layer_norm(enc, s->x, L->mlp_ln_w, L->mlp_ln_b, s->h, n);
        charge(tm, WHISPER_STAGE_NORM);
        if ((st = qattn_linear_run(enc, &L->fc1, s->h, n, s->mlp)))
            return st;
        charge(tm, WHISPER_STAGE_MLP);
        gelu(enc, s->mlp, n, c->n_ffn);
        charge(tm, WHISPER_STAGE_NORM);
        if ((st = qattn_linear_run(enc, &L->fc2, s->mlp, n, s->h)))
            return st;
        charge(tm, WHISPER_STAGE_MLP);
        add_into(s->x, s->h, nd);
    }
    layer_norm(enc, s->x, enc->ln_post_w, enc->ln_post_b, out, n);
    charge(tm, WHISPER_STAGE_NORM);
    return QATTN_OK;
}

static void free_state(state *s)
{
    free(s->col1), free(s->y1), free(s->col2), free(s->x), free(s->h), free(s->qkv);
    free(s->a), free(s->mlp), free(s->scores);
    free(s->q8), free(s->k8), free(s->v8), free(s->o8);
}

static int alloc_state(const struct qattn_encoder *enc, state *s)
{
    const whisper_config *c = &enc->cfg;
    const size_t n = (size_t)c->n_ctx, d = (size_t)c->n_state, f = sizeof(float);
    memset(s, 0, sizeof *s);
    s->col1 = malloc(2 * n * 3 * c->n_mels * f);
    s->y1 = malloc(2 * n * d * f);
    s->col2 = malloc(n * 3 * d * f);
    float **nd[] = {&s->x, &s->h, &s->a};
    int ok = s->col1 && s->y1 && s->col2;
    for (size_t i = 0; i < sizeof nd / sizeof *nd; i++)
        ok &= (*nd[i] = malloc(n * d * f)) != NULL;
    ok &= (s->qkv = malloc(n * 3 * d * f)) != NULL;
    ok &= (s->mlp = malloc(n * (size_t)c->n_ffn * f)) != NULL;
    if (enc->precision == QATTN_PRECISION_F32) {
        ok &= (s->scores = malloc(n * n * f)) != NULL;
    } else {
        int8_t **b[] = {&s->q8, &s->k8, &s->v8, &s->o8};
        for (size_t i = 0; i < 4; i++)
            ok &= (*b[i] = malloc(n * d)) != NULL;
    }
    return ok;
}

qattn_status qattn_encoder_run(const qattn_encoder *enc, const float *mel, int32_t batch, float *out)
{
    return qattn_encoder_run_observed(enc, mel, batch, out, NULL);
}

qattn_status qattn_encoder_run_observed(const struct qattn_encoder *enc, const float *mel,
                                          int32_t batch, float *out, double *stage_ms)
{
    qattn_clear_error();
    if (!enc || !mel || !out)
        return qattn_fail(QATTN_ERR_NULL, "encoder_run: %s is NULL",
                          !enc ? "encoder" : !mel ? "mel" : "out");
    const whisper_config *c = &enc->cfg;
    if (batch < 1 || (size_t)batch > SIZE_MAX / ((size_t)c->n_mels * 2 * c->n_ctx * sizeof(float)))
        return qattn_fail(QATTN_ERR_SIZE, "encoder_run: batch = %d", batch);
    const size_t mel_window = (size_t)c->n_mels * 2 * c->n_ctx;
    for (size_t i = 0; i < mel_window * (size_t)batch; i++)
        if (!isfinite(mel[i]))
            return qattn_fail(QATTN_ERR_VALUE, "encoder_run: mel[%zu] is not finite", i);
    state s;
    if (!alloc_state(enc, &s)) {
        free_state(&s);
        return qattn_fail(QATTN_ERR_NOMEM, "encoder_run: out of memory");
    }
    qattn_status st = QATTN_OK;
    timer tm = {stage_ms, now_ms()};
    for (int32_t b = 0; b < batch && st == QATTN_OK; b++)
        st = forward(enc, mel + (size_t)b * mel_window, &s,
                     out + (size_t)b * c->n_ctx * c->n_state, &tm);
    free_state(&s);
    return st;
}

qattn_status qattn_encoder_get_info(const qattn_encoder *enc, qattn_encoder_info *info)
{
    qattn_clear_error();
    if (!enc || !info)
        return qattn_fail(QATTN_ERR_NULL, "encoder_get_info: NULL argument");
    info->n_mels = enc->cfg.n_mels, info->n_ctx = enc->cfg.n_ctx;
    info->n_state = enc->cfg.n_state, info->n_heads = enc->cfg.n_heads;
    info->n_layers = enc->cfg.n_layers;
    return QATTN_OK;
}

static void free_linear(whisper_linear *l)
{
    free(l->w), free(l->b);
    qattn_gemm_weights_free(&l->q);
}

void qattn_encoder_free(struct qattn_encoder *enc)
{
    if (!enc)
        return;
    free_linear(&enc->conv1), free_linear(&enc->conv2);
    for (int32_t i = 0; enc->layers && i < enc->cfg.n_layers; i++) {
        whisper_layer *L = &enc->layers[i];
        free(L->attn_ln_w), free(L->attn_ln_b), free(L->mlp_ln_w), free(L->mlp_ln_b);
        free_linear(&L->qkv), free_linear(&L->o);
        free_linear(&L->fc1), free_linear(&L->fc2);
    }
    free(enc->layers), free(enc->pos), free(enc->ln_post_w), free(enc->ln_post_b);
    free(enc);
}

