/*
 * The tier-independent glue: walks heads x query tiles in parallel and, per query tile,
 * the key tiles in order, keeping the online softmax state exactly as the reference tile
 * kernel does ([Q4]-[Q7]); the tier's microkernels compute scores, weights and P.V.
 */
#include "attn/attention_tiled.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"

/* One worker's memory: the state of a query tile and the tile-sized intermediates. */
typedef struct worker_memory {
    int32_t *row_max;  /* [rows] */
    int64_t *row_sum;  /* [rows] */
    int64_t *acc;      /* [rows][d] */
    int32_t *scratch;  /* reference kernel: (64 + d) int32 */
    int32_t *scores;   /* fast tiers: [rows][64] */
    uint8_t *p;        /* fast tiers: [rows][QATTN_P_ROW_BYTES] */
} worker_memory;

typedef struct run {
    const qattn_attention_job *job;
    int32_t tile_rows, q_tiles, k_tiles;
    size_t tile_bytes;    /* one packed key tile */
    uint8_t *packed;      /* [heads][k_tiles] packed key tiles, fast tiers */
    worker_memory *mem;   /* [workers] */
} run;

static void *alloc64(size_t bytes)
{
    return aligned_alloc(64, (bytes + 63) / 64 * 64);
}

static int32_t keys_valid(const qattn_attention_desc *d, int32_t h)
{
    return d->kv_len ? d->kv_len[h] : d->len_k;
}

static void pack_task(void *ctx, int64_t item, int worker)
{
    (void)worker;
    const run *r = ctx;
    const qattn_attention_desc *d = r->job->desc;
    int32_t h = (int32_t)(item / r->k_tiles), kt = (int32_t)(item % r->k_tiles);
    int32_t key0 = kt * QATTN_TILE_KEYS;
    int32_t keys = d->len_k - key0 < QATTN_TILE_KEYS ? d->len_k - key0 : QATTN_TILE_KEYS;
    size_t off = ((size_t)h * d->len_k + key0) * d->head_dim;
    r->job->uk->pack_kv(r->job->k + off, r->job->v + off, d->head_dim, keys, d->head_dim,
                        r->packed + (size_t)item * r->tile_bytes);
}

/* One key tile through the tier's microkernels, then the state update of the reference. */
static void absorb_fast(const run *r, int32_t h, const qattn_tile_state *st, const int8_t *q,
                        int32_t row0, int32_t kt, int32_t keys, const worker_memory *m)
{
    const qattn_attn_ukernels *uk = r->job->uk;
    const qattn_tile_params *p = &r->job->params[h];
    const int32_t d = st->head_dim, key0 = kt * QATTN_TILE_KEYS;
    const uint8_t *packed = r->packed + ((size_t)h * r->k_tiles + kt) * r->tile_bytes;
    uk->scores(q, d, st->rows, packed, d, m->scores);
    for (int32_t i = 0; i < st->rows; i++) {
        uint8_t *p_row = m->p + (size_t)i * QATTN_P_ROW_BYTES;
        int32_t allowed = keys;
        if (r->job->desc->causal) {
            int64_t last = (int64_t)i + row0 - key0; /* last key this row may see */
            allowed = last < 0 ? 0 : last + 1 < keys ? (int32_t)(last + 1) : keys;
        }
        int32_t m_new;
        int32_t sum = uk->softmax_row(m->scores + i * 64, allowed, st->row_max[i], p, p_row, &m_new);
        if (allowed == 0)
            continue; /* weights 0, state untouched, as the reference skips the row */
        uint32_t alpha = qattn_tile_raise_max(&st->row_max[i], &st->row_sum[i], m_new, p);
        if (alpha != 65536)
            uk->rescale(st->acc + (size_t)i * d, d, alpha);
        st->row_sum[i] += sum;
    }
    uk->pv(m->p, st->rows, packed, d, st->acc);
}

static void query_tile_task(void *ctx, int64_t item, int worker)
{
    const run *r = ctx;
    const qattn_attention_desc *d = r->job->desc;
    const worker_memory *m = &r->mem[worker];
    const int32_t h = (int32_t)(item / r->q_tiles), hd = d->head_dim;
    const int32_t row0 = (int32_t)(item % r->q_tiles) * r->tile_rows;
    const int32_t rows = d->len_q - row0 < r->tile_rows ? d->len_q - row0 : r->tile_rows;
    const int32_t valid = keys_valid(d, h);
    const qattn_tile_params *p = &r->job->params[h];
    const int8_t *q = r->job->q + ((size_t)h * d->len_q + row0) * hd;
    const int8_t *k = r->job->k + (size_t)h * d->len_k * hd;
    const int8_t *v = r->job->v + (size_t)h * d->len_k * hd;

    qattn_tile_state st = {rows, hd, m->row_max, m->row_sum, m->acc};
    qattn_tile_begin(&st);
    for (int32_t key0 = 0; key0 < valid; key0 += QATTN_TILE_KEYS) {
        if (d->causal && key0 > row0 + rows - 1)
            break; /* no row of this tile reaches these keys */
        int32_t keys = valid - key0 < QATTN_TILE_KEYS ? valid - key0 : QATTN_TILE_KEYS;
        if (r->job->uk)
            absorb_fast(r, h, &st, q, row0, key0 / QATTN_TILE_KEYS, keys, m);
        else
            qattn_tile_absorb(&st, p, q, hd, k + (size_t)key0 * hd, v + (size_t)key0 * hd, hd,
                              keys, d->causal ? row0 - key0 : QATTN_NO_CAUSAL, m->scratch);
    }
    qattn_tile_finish(&st, p, r->job->out + ((size_t)h * d->len_q + row0) * hd, hd);
}

static int alloc_worker(worker_memory *m, int32_t rows, int32_t d)
{
    m->row_max = alloc64((size_t)rows * sizeof(int32_t));
    m->row_sum = alloc64((size_t)rows * sizeof(int64_t));
    m->acc = alloc64((size_t)rows * d * sizeof(int64_t));
    m->scratch = alloc64(((size_t)QATTN_TILE_KEYS + d) * sizeof(int32_t));
    m->scores = alloc64((size_t)rows * QATTN_TILE_KEYS * sizeof(int32_t));
    m->p = alloc64((size_t)rows * QATTN_P_ROW_BYTES);
    return m->row_max && m->row_sum && m->acc && m->scratch && m->scores && m->p;
}

static void free_worker(worker_memory *m)
{
    free(m->row_max), free(m->row_sum), free(m->acc), free(m->scratch);
    free(m->scores), free(m->p);
}

qattn_status qattn_attention_run(const qattn_attention_job *job)
{
    const qattn_attention_desc *d = job->desc;
    run r = {job, 0, 0, 0, 0, NULL, NULL};
    /* Fast tiers take 64 rows per query tile: the microkernels' scratch is per tile, not
     * bound by the accelerator's 64 KiB; rows are independent, so this changes nothing. */
    r.tile_rows = job->uk ? QATTN_TILE_ROWS : qattn_tile_rows_for_head_dim(d->head_dim);
    r.q_tiles = (d->len_q + r.tile_rows - 1) / r.tile_rows;
    r.k_tiles = (d->len_k + QATTN_TILE_KEYS - 1) / QATTN_TILE_KEYS;
    const int64_t q_items = (int64_t)d->heads * r.q_tiles, k_items = (int64_t)d->heads * r.k_tiles;
    const int workers = qattn_workers_for(d->threads, q_items);

    qattn_status st = QATTN_OK;
    r.mem = calloc((size_t)workers, sizeof *r.mem);
    if (!r.mem)
        return qattn_fail(QATTN_ERR_NOMEM, "attention: out of memory");
    for (int w = 0; w < workers; w++)
        if (!alloc_worker(&r.mem[w], r.tile_rows, d->head_dim))
            st = QATTN_ERR_NOMEM;
    if (job->uk && st == QATTN_OK) {
        r.tile_bytes = (job->uk->kv_tile_bytes(d->head_dim) + 63) / 64 * 64;
        /* k_items * tile_bytes <= heads * (len_k + 63) * ~130 bytes: far below SIZE_MAX for
         * the validated limits, but checked all the same. */
        size_t total;
        if (__builtin_mul_overflow((size_t)k_items, r.tile_bytes, &total) ||
            !(r.packed = alloc64(total)))
            st = QATTN_ERR_NOMEM;
        else
            qattn_parallel_for(qattn_workers_for(d->threads, k_items), k_items, pack_task, &r);
    }
    if (st == QATTN_OK)
        qattn_parallel_for(workers, q_items, query_tile_task, &r);
    else
        st = qattn_fail(QATTN_ERR_NOMEM, "attention: out of memory");
    for (int w = 0; w < workers; w++)
        free_worker(&r.mem[w]);
    free(r.mem);
    free(r.packed);
    return st;
}
