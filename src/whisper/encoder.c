/*
 * The Whisper encoder's forward pass, top to bottom (openai/whisper model.py AudioEncoder):
 *
 *   x = GELU(conv1(mel)); x = GELU(conv2(x)) (stride 2); x += positional embedding
 *   per layer: x += out(attention(q(LN(x)), k(LN(x)), v(LN(x))))
 *              x += fc2(GELU(fc1(LN(x))))
 *   x = LN(x)
 *
 * The convolutions are GEMMs over input frames read in place (tap-major kernels). The linear
 * layers (linear.c) and the attention (self_attention.c) run in the encoder's precision;
 * LayerNorm, GELU and residuals (ops/float_ops.c) are float in both. In int8 each GEMM is
 * fused with what follows it (gemm/gemm.h): GELU, the residual add, the next LayerNorm and
 * the next GEMM's input quantization run on the GEMM's finished rows, with the same bits as
 * the separate passes; two quantized-row workspaces take turns (conv1 has a third, for its
 * 2 n_ctx rows). Nothing here knows instruction sets.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "attn/attention.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/float_ops.h"
#include "whisper/encoder_stages.h"
#include "whisper/model.h"

/* Tells the observer a stage ended; nonzero: it asks the run to stop (QATTN_CANCELLED). */
static int stage_done(const qattn_stage_observer *o, qattn_encoder_stage stage)
{
    return o && o->stage_done(o->ctx, stage);
}

/* Working memory of one window. */
typedef struct state {
    float *mel_t; /* [2 n_ctx + 2][n_mels]: the mel time-major, a zero frame at each end */
    float *y1;    /* [2 n_ctx + 2][d]: GELU(conv1), a zero frame at each end */
    float *col1;  /* f32: [2 n_ctx][3 n_mels], conv1's input rows side by side */
    float *col2;  /* f32: [n_ctx][3 d] */
    float *x;     /* [n_ctx][d] residual stream */
    float *h;     /* [n_ctx][d] normalized */
    float *qkv;   /* [n_ctx][3 d]: q, k, v side by side */
    float *a;     /* f32: [n_ctx][d] attention output (int8 quantizes it row by row) */
    float *mlp;   /* [n_ctx][n_ffn] */
    float *scores; /* f32: [n_ctx][n_ctx] */
    int8_t *qkvo8; /* int8: q, k, v, out, each [heads][n_ctx][head_dim] */
    float *head_max; /* int8: [n_ctx][3 heads] each row's max |.| per q, k, v head */
    qattn_gemm_workspace ws[3]; /* int8: quantized rows of a GEMM's input, in turn; conv1's */
    qattn_attention_scratch attn; /* int8: the attention's memory */
} state;

/*
 * The convolutions (kernel 3, padding 1) as GEMMs without im2col: their kernels are kept
 * tap-major ([out][3][channels], model_build.c), so the input of output frame t is the
 * 3 channels values of padded frames stride t .. stride t + 2 side by side: a row of the
 * GEMM read in place, rows `stride channels` apart (they overlap). The int8 GEMM reads them
 * so; OpenBLAS wants rows at least as far apart as they are long, so f32 copies them.
 */

/* out[(f + 1) * channels + c] = mel[c * frames + f]: the mel time-major, after the zero
 * frame at out's start. Frames in parallel. */
typedef struct transpose_job {
    const float *mel;
    int32_t channels, frames;
    float *out;
} transpose_job;

static void transpose_rows(void *ctx, int32_t f0, int32_t count)
{
    const transpose_job *j = ctx;
    for (int32_t f = f0; f < f0 + count; f++)
        for (int32_t c = 0; c < j->channels; c++)
            j->out[(size_t)(f + 1) * j->channels + c] = j->mel[(size_t)c * j->frames + f];
}

typedef struct copy_job {
    const float *from;
    float *to;
    int32_t cols;
} copy_job;

static void copy_rows(void *ctx, int32_t r0, int32_t count)
{
    const copy_job *j = ctx;
    memcpy(j->to + (size_t)r0 * j->cols, j->from + (size_t)r0 * j->cols,
           (size_t)count * j->cols * sizeof(float));
}

/* col[t][:] = the 3 channels values from padded frame stride t on (f32's copy of the rows). */
typedef struct columns_job {
    const float *padded;
    int32_t channels, stride;
    float *col;
} columns_job;

static void column_rows(void *ctx, int32_t t0, int32_t count)
{
    const columns_job *j = ctx;
    const size_t row = (size_t)3 * j->channels;
    for (int32_t t = t0; t < t0 + count; t++)
        memcpy(j->col + (size_t)t * row, j->padded + (size_t)t * j->stride * j->channels,
               row * sizeof(float));
}

static void columns(const float *padded, int32_t channels, int32_t stride, int32_t out_frames,
                    float *col, int32_t threads)
{
    columns_job j = {padded, channels, stride, col};
    qattn_parallel_rows(threads, out_frames, column_rows, &j);
}

/*
 * The int8 encoder from conv2 on, every GEMM fused with its consumers (the order of the f32
 * forward below, step for step): conv2 + GELU + positions (x starts as the positional
 * embedding, and the sum is commutative) + LayerNorm -> rows for qkv; qkv -> floats (and
 * each row's per-head maxima) for the attention, whose int8 output becomes rows for out;
 * out + residual + LayerNorm -> rows for fc1; fc1 + GELU -> rows for fc2; fc2 + residual +
 * the next LayerNorm -> rows for the next qkv, or ln_post into `out`.
 */
static qattn_status forward_int8(const struct qattn_encoder *enc, state *s, float *out,
                                 const qattn_stage_observer *obs)
{
    const whisper_config *c = &enc->cfg;
    const int32_t n = c->n_ctx, d = c->n_state, th = enc->run.threads;
    qattn_gemm_workspace *a = &s->ws[0], *b = &s->ws[1];
    qattn_status st;

    copy_job positions = {enc->pos, s->x, d}; /* one thread's memcpy: ~8% of the stage */
    qattn_parallel_rows(th, n, copy_rows, &positions);
    const whisper_layer *first = &enc->layers[0];
    if ((st = qattn_gemm_quantize_input(&enc->conv2.q, s->y1, n, 2 * d, th, a)))
        return st; /* conv2's rows in place: 3 frames from frame 2t on, 2 frames apart */
    qattn_gemm_fusion conv = {.gelu = 1, .residual = s->x, .ln_gamma = first->attn_ln_w,
                              .ln_beta = first->attn_ln_b, .next = b, .next_w = &first->qkv.q};
    if ((st = qattn_gemm_run_fused(&enc->conv2.q, a, &conv, th)))
        return st;
    if (stage_done(obs, QATTN_STAGE_CONV))
        return QATTN_CANCELLED;

    for (int32_t l = 0; l < c->n_layers; l++) {
        const whisper_layer *L = &enc->layers[l];
        qattn_gemm_fusion qkv = {.y = s->qkv, .ldy = 3 * d, .group_max = s->head_max,
                                 .group = d / c->n_heads};
        if ((st = qattn_gemm_run_fused(&L->qkv.q, b, &qkv, th)))
            return st;
        if (stage_done(obs, QATTN_STAGE_PROJ))
            return QATTN_CANCELLED;
        if ((st = qattn_self_attention_int8(enc, s->qkv, s->head_max, n, s->qkvo8, &s->attn,
                                            &L->o.q, a)))
            return st;
        if (stage_done(obs, QATTN_STAGE_ATTENTION))
            return QATTN_CANCELLED;
        qattn_gemm_fusion o = {.residual = s->x, .ln_gamma = L->mlp_ln_w, .ln_beta = L->mlp_ln_b,
                               .next = b, .next_w = &L->fc1.q};
        if ((st = qattn_gemm_run_fused(&L->o.q, a, &o, th)))
            return st;
        if (stage_done(obs, QATTN_STAGE_PROJ))
            return QATTN_CANCELLED;
        qattn_gemm_fusion fc1 = {.gelu = 1, .next = a, .next_w = &L->fc2.q};
        if ((st = qattn_gemm_run_fused(&L->fc1.q, b, &fc1, th)))
            return st;
        const int last = l + 1 == c->n_layers;
        const whisper_layer *N = last ? NULL : &enc->layers[l + 1];
        qattn_gemm_fusion fc2 = {.residual = s->x,
                                 .ln_gamma = last ? enc->ln_post_w : N->attn_ln_w,
                                 .ln_beta = last ? enc->ln_post_b : N->attn_ln_b,
                                 .y = last ? out : NULL, .ldy = d,
                                 .next = last ? NULL : b, .next_w = last ? NULL : &N->qkv.q};
        if ((st = qattn_gemm_run_fused(&L->fc2.q, a, &fc2, th)))
            return st;
        if (stage_done(obs, QATTN_STAGE_MLP))
            return QATTN_CANCELLED;
    }
    return QATTN_OK;
}

static qattn_status forward(const struct qattn_encoder *enc, const float *mel, state *s,
                            float *out, const qattn_stage_observer *obs)
{
    const whisper_config *c = &enc->cfg;
    const int32_t n = c->n_ctx, d = c->n_state, th = enc->run.threads;
    const size_t nd = (size_t)n * d;
    qattn_status st;

    transpose_job tj = {mel, c->n_mels, 2 * n, s->mel_t};
    qattn_parallel_rows(th, 2 * n, transpose_rows, &tj);
    if (enc->run.precision == QATTN_PRECISION_INT8) { /* conv1 + GELU, fused, rows in place */
        qattn_gemm_fusion conv1 = {.gelu = 1, .y = s->y1 + d, .ldy = d};
        if ((st = qattn_gemm_quantize_input(&enc->conv1.q, s->mel_t, 2 * n, c->n_mels, th,
                                            &s->ws[2])) ||
            (st = qattn_gemm_run_fused(&enc->conv1.q, &s->ws[2], &conv1, th)))
            return st;
        return forward_int8(enc, s, out, obs);
    }
    columns(s->mel_t, c->n_mels, 1, 2 * n, s->col1, th);
    if ((st = qattn_linear_run(&enc->run, &enc->conv1, s->col1, 2 * n, s->y1 + d)))
        return st;
    if (stage_done(obs, QATTN_STAGE_CONV))
        return QATTN_CANCELLED;
    qattn_gelu(s->y1 + d, 2 * n, d, th);
    if (stage_done(obs, QATTN_STAGE_NORM))
        return QATTN_CANCELLED;
    columns(s->y1, d, 2, n, s->col2, th);
    if ((st = qattn_linear_run(&enc->run, &enc->conv2, s->col2, n, s->x)))
        return st;
    if (stage_done(obs, QATTN_STAGE_CONV))
        return QATTN_CANCELLED;
    qattn_gelu(s->x, n, d, th);
    qattn_add(s->x, enc->pos, nd);
    if (stage_done(obs, QATTN_STAGE_NORM))
        return QATTN_CANCELLED;

    for (int32_t l = 0; l < c->n_layers; l++) {
        const whisper_layer *L = &enc->layers[l];
        qattn_layer_norm(s->x, L->attn_ln_w, L->attn_ln_b, s->h, n, d, th);
        if (stage_done(obs, QATTN_STAGE_NORM))
            return QATTN_CANCELLED;
        if ((st = qattn_linear_run(&enc->run, &L->qkv, s->h, n, s->qkv)))
            return st;
        if (stage_done(obs, QATTN_STAGE_PROJ))
            return QATTN_CANCELLED;
        qattn_self_attention_f32(enc, s->qkv, n, s->scores, s->a);
        if (stage_done(obs, QATTN_STAGE_ATTENTION))
            return QATTN_CANCELLED;
        if ((st = qattn_linear_run(&enc->run, &L->o, s->a, n, s->h)))
            return st;
        if (stage_done(obs, QATTN_STAGE_PROJ))
            return QATTN_CANCELLED;
        qattn_add(s->x, s->h, nd);
        qattn_layer_norm(s->x, L->mlp_ln_w, L->mlp_ln_b, s->h, n, d, th);
        if (stage_done(obs, QATTN_STAGE_NORM))
            return QATTN_CANCELLED;
        if ((st = qattn_linear_run(&enc->run, &L->fc1, s->h, n, s->mlp)))
            return st;
        if (stage_done(obs, QATTN_STAGE_MLP))
            return QATTN_CANCELLED;
        qattn_gelu(s->mlp, n, c->n_ffn, th);
        if (stage_done(obs, QATTN_STAGE_NORM))
            return QATTN_CANCELLED;
        if ((st = qattn_linear_run(&enc->run, &L->fc2, s->mlp, n, s->h)))
            return st;
        if (stage_done(obs, QATTN_STAGE_MLP))
            return QATTN_CANCELLED;
        qattn_add(s->x, s->h, nd);
    }
    qattn_layer_norm(s->x, enc->ln_post_w, enc->ln_post_b, out, n, d, th);
    if (stage_done(obs, QATTN_STAGE_NORM))
        return QATTN_CANCELLED;
    return QATTN_OK;
}

static void free_state(state *s)
{
    for (int i = 0; i < 3; i++)
        qattn_gemm_workspace_free(&s->ws[i]);
    qattn_attention_scratch_free(&s->attn);
    free(s->mel_t), free(s->col1), free(s->y1), free(s->col2), free(s->x), free(s->h);
    free(s->qkv);
    free(s->a), free(s->mlp), free(s->scores), free(s->qkvo8), free(s->head_max);
}

static int alloc_state(const struct qattn_encoder *enc, state *s)
{
    const whisper_config *c = &enc->cfg;
    const size_t n = (size_t)c->n_ctx, d = (size_t)c->n_state, f = sizeof(float);
    memset(s, 0, sizeof *s);
    s->mel_t = calloc((2 * n + 2) * c->n_mels, f); /* the end frames stay zero */
    s->y1 = calloc((2 * n + 2) * d, f);
    int ok = s->mel_t && s->y1;
    ok &= (s->x = malloc(n * d * f)) != NULL;
    ok &= (s->qkv = malloc(n * 3 * d * f)) != NULL;
    if (enc->run.precision == QATTN_PRECISION_F32) {
        ok &= (s->col1 = malloc(2 * n * 3 * c->n_mels * f)) != NULL;
        ok &= (s->col2 = malloc(n * 3 * d * f)) != NULL;
        ok &= (s->a = malloc(n * d * f)) != NULL;
        ok &= (s->h = malloc(n * d * f)) != NULL;
        ok &= (s->mlp = malloc(n * (size_t)c->n_ffn * f)) != NULL;
        ok &= (s->scores = malloc(n * n * f)) != NULL;
    } else {
        ok &= (s->qkvo8 = malloc(4 * n * d)) != NULL;
        ok &= (s->head_max = malloc(n * 3 * (size_t)c->n_heads * f)) != NULL;
        /* the widest input after conv1: conv2's 3 d columns or fc2's n_ffn */
        const int32_t k = 3 * c->n_state > c->n_ffn ? 3 * c->n_state : c->n_ffn;
        for (int i = 0; i < 2 && ok; i++)
            ok &= qattn_gemm_workspace_init(&s->ws[i], c->n_ctx, k, enc->run.threads) == QATTN_OK;
        ok = ok && qattn_gemm_workspace_init(&s->ws[2], 2 * c->n_ctx, 3 * c->n_mels,
                                             enc->run.threads) == QATTN_OK;
    }
    return ok;
}

/*
 * The working memory of the encoder's last run, kept for the next: a run that allocated its
 * own mapped tens of MB of fresh pages and paid their faults (5-8% of a base window on 2
 * threads). One spare: a run that finds it taken (another thread's run at the same time)
 * allocates its own, and the spare keeps one of them. Every buffer a run reads it writes
 * first, except the zero frames at the ends of mel_t and y1, which no run writes.
 */
struct qattn_encoder_spare {
    pthread_mutex_t lock;
    state *kept; /* NULL: none */
};

struct qattn_encoder_spare *qattn_encoder_spare_new(void)
{
    struct qattn_encoder_spare *sp = calloc(1, sizeof *sp);
    if (sp && pthread_mutex_init(&sp->lock, NULL) != 0)
        free(sp), sp = NULL;
    return sp;
}

static void state_delete(state *s)
{
    if (s)
        free_state(s);
    free(s);
}

static void spare_free(struct qattn_encoder_spare *sp)
{
    if (!sp)
        return;
    state_delete(sp->kept);
    pthread_mutex_destroy(&sp->lock);
    free(sp);
}

/* The spare, or new working memory; NULL when memory is short. */
static state *take_state(const struct qattn_encoder *enc)
{
    pthread_mutex_lock(&enc->spare->lock);
    state *s = enc->spare->kept;
    enc->spare->kept = NULL;
    pthread_mutex_unlock(&enc->spare->lock);
    if (s)
        return s;
    if ((s = malloc(sizeof *s)) && !alloc_state(enc, s))
        state_delete(s), s = NULL;
    return s;
}

static void give_back(const struct qattn_encoder *enc, state *s)
{
    pthread_mutex_lock(&enc->spare->lock);
    if (!enc->spare->kept)
        enc->spare->kept = s, s = NULL;
    pthread_mutex_unlock(&enc->spare->lock);
    state_delete(s);
}

qattn_status qattn_encoder_run(const qattn_encoder *enc, const float *mel, int32_t batch, float *out)
{
    return qattn_encoder_run_observed(enc, mel, batch, out, NULL);
}

qattn_status qattn_encoder_run_observed(const struct qattn_encoder *enc, const float *mel,
                                        int32_t batch, float *out,
                                        const qattn_stage_observer *observer)
{
    qattn_clear_error();
    if (!enc || !mel || !out)
        return qattn_fail(QATTN_ERR_NULL, "encoder_run: %s is NULL",
                          !enc ? "encoder" : !mel ? "mel" : "out");
    const whisper_config *c = &enc->cfg;
    if (batch < 1 || (size_t)batch > SIZE_MAX / ((size_t)c->n_mels * 2 * c->n_ctx * sizeof(float)))
        return qattn_fail(QATTN_ERR_SIZE, "encoder_run: batch = %d", batch);
    const size_t mel_window = (size_t)c->n_mels * 2 * c->n_ctx;
    const size_t bad = qattn_first_non_finite(mel, mel_window * (size_t)batch);
    if (bad < mel_window * (size_t)batch)
        return qattn_fail(QATTN_ERR_VALUE, "encoder_run: mel[%zu] is not finite", bad);
    state *s = take_state(enc);
    if (!s)
        return qattn_fail(QATTN_ERR_NOMEM, "encoder_run: out of memory");
    qattn_status st = QATTN_OK;
    for (int32_t b = 0; b < batch && st == QATTN_OK; b++)
        st = forward(enc, mel + (size_t)b * mel_window, s,
                     out + (size_t)b * c->n_ctx * c->n_state, observer);
    give_back(enc, s);
    return st;
}

qattn_status qattn_encoder_get_info(const qattn_encoder *enc, qattn_encoder_info *info)
{
    qattn_clear_error();
    if (!enc || !info)
        return qattn_fail(QATTN_ERR_NULL, "encoder_get_info: NULL argument");
    const qattn_encoder_info full = {sizeof full, enc->cfg.n_mels, enc->cfg.n_ctx,
                                     enc->cfg.n_state, enc->cfg.n_heads, enc->cfg.n_layers};
    return qattn_struct_write(info, &full, sizeof full, "encoder_get_info");
}

void qattn_encoder_free(struct qattn_encoder *enc)
{
    if (!enc)
        return;
    qattn_linear_free(&enc->conv1), qattn_linear_free(&enc->conv2);
    for (int32_t i = 0; enc->layers && i < enc->cfg.n_layers; i++) {
        whisper_layer *L = &enc->layers[i];
        free(L->attn_ln_w), free(L->attn_ln_b), free(L->mlp_ln_w), free(L->mlp_ln_b);
        qattn_linear_free(&L->qkv), qattn_linear_free(&L->o);
        qattn_linear_free(&L->fc1), qattn_linear_free(&L->fc2);
    }
    free(enc->layers), free(enc->pos), free(enc->ln_post_w), free(enc->ln_post_b);
    spare_free(enc->spare);
    free(enc);
}
