/*
 * The tier-independent glue: walks heads x query tiles in parallel and, per query tile,
 * the key tiles in order, keeping the online softmax state exactly as the reference tile
 * kernel does ([Q4]-[Q7]); the tier's microkernels compute scores, weights and P.V.
 *
 * Causal masks: key j is visible to query i iff j <= i + c, c = 0 (top-left, PyTorch's
 * is_causal) or c = valid keys - len_q (bottom-right: a query block appended to the end of a
 * key cache, as a decoder's new tokens are).
 */
#include "attn/attention_tiled.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/reserve.h"
#include "core/parallel.h"

/* One worker's memory: the state of a query tile and the tile-sized intermediates. */
struct qattn_attn_worker {
    int32_t *row_max;  /* [64] */
    int64_t *row_sum;  /* [64] */
    int64_t *acc;      /* [64][d] */
    int32_t *scratch;  /* reference kernel: (64 + d) int32 */
    int32_t *scores;   /* fast tiers: [64][64] */
    uint8_t *p;        /* fast tiers: [QATTN_PV_TILES_MAX][64][QATTN_P_ROW_BYTES] */
    uint32_t *alpha;   /* fast tiers with pv_tiles: [QATTN_PV_TILES_MAX][64] rescales */
    int32_t *allowed, *m_new, *sums; /* fast tiers: [64] each, a key tile's per-row results */
};

typedef struct run {
    const qattn_attention_job *job;
    int32_t tile_rows, q_tiles;
    struct qattn_attn_worker *mem; /* [workers] */
    uint16_t *e_table[QATTN_MAX_HEADS]; /* per head: its weight table, or NULL */
} run;

static void *alloc64(size_t bytes)
{
    return aligned_alloc(64, (bytes + 63) / 64 * 64);
}

size_t qattn_attn_tile_bytes(const qattn_attn_ukernels *uk, int32_t head_dim)
{
    return (uk->kv_tile_bytes(head_dim) + 63) / 64 * 64;
}

typedef struct pack_job {
    const qattn_attn_ukernels *uk;
    const qattn_kv_view *kv;
    int32_t from, len_k, head_dim, first_tile, tiles;
} pack_job;

static void pack_task(void *ctx, int64_t item, int worker)
{
    (void)worker;
    const pack_job *j = ctx;
    const int32_t h = (int32_t)(item / j->tiles), kt = j->first_tile + (int32_t)(item % j->tiles);
    const int32_t key0 = kt * QATTN_TILE_KEYS;
    const int32_t keys = j->len_k - key0 < QATTN_TILE_KEYS ? j->len_k - key0 : QATTN_TILE_KEYS;
    const int32_t first = j->from > key0 ? j->from - key0 : 0;
    const size_t off = (size_t)h * j->kv->head_stride + (size_t)key0 * j->head_dim;
    j->uk->pack_kv(j->kv->k + off, j->kv->v + off, j->head_dim, first, keys, j->head_dim,
                   (uint8_t *)j->kv->packed + ((size_t)h * j->kv->head_tiles + kt) * j->kv->tile_bytes);
}

void qattn_attn_pack(const qattn_attn_ukernels *uk, const qattn_kv_view *kv, int32_t heads,
                     int32_t from, int32_t len_k, int32_t head_dim, int32_t threads)
{
    if (from >= len_k)
        return;
    const int32_t first_tile = from / QATTN_TILE_KEYS;
    const int32_t tiles = (len_k - 1) / QATTN_TILE_KEYS - first_tile + 1;
    pack_job j = {uk, kv, from, len_k, head_dim, first_tile, tiles};
    const int64_t items = (int64_t)heads * tiles;
    qattn_parallel_for(qattn_workers_for(threads, items), items, pack_task, &j);
}

static int32_t keys_valid(const qattn_attention_job *j, int32_t h)
{
    return j->kv_len ? j->kv_len[h] : j->len_k;
}

/* c of the mask "key j visible to query i iff j <= i + c", or QATTN_NO_CAUSAL. */
static int64_t causal_offset(const qattn_attention_job *j, int32_t h)
{
    if (j->causal == QATTN_CAUSAL_TOP_LEFT)
        return 0;
    if (j->causal == QATTN_CAUSAL_BOTTOM_RIGHT)
        return (int64_t)keys_valid(j, h) - j->len_q;
    return QATTN_NO_CAUSAL;
}

static const uint8_t *packed_tile(const qattn_attention_job *j, int32_t h, int32_t kt)
{
    return j->kv.packed + ((size_t)h * j->kv.head_tiles + kt) * j->kv.tile_bytes;
}

/* One key tile through the tier's microkernels, then the state update of the reference. Its
 * P rows go to slot `slot` of the worker's P rows. A tier with pv_tiles gets the rescales in
 * the slot's alphas and applies them with the P.V of the slots (flush_pv); else both are
 * done here. */
static void absorb_fast(const run *r, int32_t h, const qattn_tile_state *st, const int8_t *q,
                        int64_t diag, int32_t kt, int32_t keys, const struct qattn_attn_worker *m,
                        int32_t slot)
{
    const qattn_attention_job *j = r->job;
    const qattn_attn_ukernels *uk = j->uk;
    const qattn_tile_params *p = &j->params[h];
    const int32_t d = st->head_dim;
    const uint8_t *packed = packed_tile(j, h, kt);
    uint8_t *p_rows = m->p + (size_t)slot * QATTN_TILE_ROWS * QATTN_P_ROW_BYTES;
    uint32_t *alpha = uk->pv_tiles ? m->alpha + (size_t)slot * QATTN_TILE_ROWS : NULL;
    uk->scores(q, d, st->rows, packed, d, m->scores);
    for (int32_t i = 0; i < st->rows; i++) {
        int32_t allowed = keys;
        if (diag != QATTN_NO_CAUSAL) {
            int64_t last = i + diag; /* the last tile-local key this row may see */
            allowed = last < 0 ? 0 : last + 1 < keys ? (int32_t)(last + 1) : keys;
        }
        m->allowed[i] = allowed;
    }
    uk->softmax_rows(m->scores, st->rows, m->allowed, st->row_max, p, r->e_table[h], p_rows,
                     m->m_new, m->sums);
    for (int32_t i = 0; i < st->rows; i++) {
        uint32_t a = 65536; /* allowed = 0: weights 0, state untouched, as the reference skips
                             * the row */
        if (m->allowed[i] != 0) {
            if (m->m_new[i] > st->row_max[i]) /* else raise_max leaves all as it is */
                a = qattn_tile_raise_max(&st->row_max[i], &st->row_sum[i], m->m_new[i], p);
            st->row_sum[i] += m->sums[i];
        }
        if (alpha)
            alpha[i] = a;
        else if (a != 65536)
            uk->rescale(st->acc + (size_t)i * d, d, a);
    }
    if (!alpha)
        uk->pv(p_rows, st->rows, packed, d, st->acc);
}

/* The P.V of the `tiles` key tiles from first_kt whose P rows and rescales wait in the slots. */
static void flush_pv(const qattn_attention_job *j, int32_t h, const qattn_tile_state *st,
                     const struct qattn_attn_worker *m, int32_t first_kt, int32_t tiles)
{
    if (tiles > 0)
        j->uk->pv_tiles(m->p, st->rows, tiles, packed_tile(j, h, first_kt), j->kv.tile_bytes,
                        m->alpha, st->head_dim, st->acc);
}

static void query_tile_task(void *ctx, int64_t item, int worker)
{
    const run *r = ctx;
    const qattn_attention_job *j = r->job;
    const struct qattn_attn_worker *m = &r->mem[worker];
    const int32_t h = (int32_t)(item / r->q_tiles), hd = j->head_dim;
    const int32_t row0 = (int32_t)(item % r->q_tiles) * r->tile_rows;
    const int32_t rows = j->len_q - row0 < r->tile_rows ? j->len_q - row0 : r->tile_rows;
    const int32_t valid = keys_valid(j, h);
    const int64_t c = causal_offset(j, h);
    const qattn_tile_params *p = &j->params[h];
    const int8_t *q = j->q + ((size_t)h * j->len_q + row0) * hd;
    const int8_t *k = j->kv.k + (size_t)h * j->kv.head_stride;
    const int8_t *v = j->kv.v + (size_t)h * j->kv.head_stride;

    qattn_tile_state st = {rows, hd, m->row_max, m->row_sum, m->acc};
    qattn_tile_begin(&st);
    int32_t pending = 0; /* key tiles absorbed whose P.V waits (pv_tiles; else always 0) */
    int32_t key0 = 0;
    for (; key0 < valid; key0 += QATTN_TILE_KEYS) {
        /* tile-local diagonal: row i sees tile key t iff t <= i + row0 + c - key0 */
        const int64_t diag = c == QATTN_NO_CAUSAL ? QATTN_NO_CAUSAL : row0 + c - key0;
        if (diag != QATTN_NO_CAUSAL && diag + rows - 1 < 0)
            break; /* no row of this tile reaches these keys, nor any later ones */
        int32_t keys = valid - key0 < QATTN_TILE_KEYS ? valid - key0 : QATTN_TILE_KEYS;
        const int32_t kt = key0 / QATTN_TILE_KEYS;
        if (j->uk) {
            absorb_fast(r, h, &st, q, diag, kt, keys, m, pending);
            if (j->uk->pv_tiles && ++pending == QATTN_PV_TILES_MAX) {
                flush_pv(j, h, &st, m, kt + 1 - pending, pending);
                pending = 0;
            }
        } else
            qattn_tile_absorb(&st, p, q, hd, k + (size_t)key0 * hd, v + (size_t)key0 * hd, hd,
                              keys, diag == QATTN_NO_CAUSAL ? QATTN_NO_CAUSAL : (int32_t)diag,
                              m->scratch);
    }
    if (pending > 0) /* key0 is one tile past the last absorbed one */
        flush_pv(j, h, &st, m, key0 / QATTN_TILE_KEYS - pending, pending);
    if (j->out16) {
        qattn_tile_finish_s16(&st, p, j->out16 + ((size_t)h * j->len_q + row0) * hd, hd);
        return;
    }
    int8_t *out = j->out + ((size_t)h * j->len_q + row0) * hd;
    if (j->uk && j->uk->finish)
        j->uk->finish(&st, p, out, hd);
    else
        qattn_tile_finish(&st, p, out, hd);
}

static int alloc_worker(struct qattn_attn_worker *m, int32_t d)
{
    const size_t rows = QATTN_TILE_ROWS;
    m->row_max = alloc64(rows * sizeof(int32_t));
    m->row_sum = alloc64(rows * sizeof(int64_t));
    m->acc = alloc64(rows * d * sizeof(int64_t));
    m->scratch = alloc64(((size_t)QATTN_TILE_KEYS + d) * sizeof(int32_t));
    m->scores = alloc64(rows * QATTN_TILE_KEYS * sizeof(int32_t));
    m->p = alloc64(QATTN_PV_TILES_MAX * rows * QATTN_P_ROW_BYTES);
    m->alpha = alloc64(QATTN_PV_TILES_MAX * rows * sizeof(uint32_t));
    m->allowed = alloc64(3 * rows * sizeof(int32_t));
    if (m->allowed)
        m->m_new = m->allowed + rows, m->sums = m->allowed + 2 * rows;
    return m->row_max && m->row_sum && m->acc && m->scratch && m->scores && m->p && m->alpha &&
           m->allowed;
}

static void free_worker(struct qattn_attn_worker *m)
{
    free(m->row_max), free(m->row_sum), free(m->acc), free(m->scratch);
    free(m->scores), free(m->p), free(m->alpha), free(m->allowed);
}

void qattn_attn_workspace_free(qattn_attn_workspace *ws)
{
    for (int w = 0; ws->mem && w < ws->workers; w++)
        free_worker(&ws->mem[w]);
    free(ws->mem);
    free(ws->e_tables);
    memset(ws, 0, sizeof *ws);
}

/* Grows ws to at least `workers` workers of head_dim d (all of them remade if d grows). */
static int reserve(qattn_attn_workspace *ws, int workers, int32_t d)
{
    if (ws->mem && ws->workers >= workers && ws->head_dim >= d)
        return 1;
    if (ws->head_dim > d)
        d = ws->head_dim;
    if (ws->workers > workers)
        workers = ws->workers;
    qattn_attn_workspace_free(ws);
    ws->mem = calloc((size_t)workers, sizeof *ws->mem);
    if (!ws->mem)
        return 0;
    ws->workers = workers, ws->head_dim = d;
    int ok = 1;
    for (int w = 0; w < workers; w++)
        ok &= alloc_worker(&ws->mem[w], d);
    if (!ok)
        qattn_attn_workspace_free(ws);
    return ok;
}

/* Weight tables (exp_table) pay for themselves when many query rows share a head: each
 * replaces the exponent arithmetic of a score by one gather (2x the softmax's speed, this
 * machine). A table of d_zero + 2 entries is built when the head has at least TABLE_MIN_ROWS
 * query rows and 4 scores per entry (an entry costs what computing one weight does); short
 * query blocks (a decoder's steps) never build one. The weights are the same either way. */
enum { TABLE_MIN_ROWS = 256, TABLE_MAX_ENTRIES = 1 << 18, TABLE_SCORES_PER_ENTRY = 4 };

static size_t table_entries(const qattn_attention_job *job, int32_t h)
{
    const int64_t d_zero = job->params[h].d_zero;
    if (!job->uk || !job->uk->exp_table || job->len_q < TABLE_MIN_ROWS ||
        d_zero + 2 > TABLE_MAX_ENTRIES ||
        (int64_t)job->len_q * job->len_k < TABLE_SCORES_PER_ENTRY * (d_zero + 2))
        return 0;
    return (size_t)(d_zero + 2 + 31) / 32 * 32; /* rounded: each table starts 64-byte aligned */
}

static void table_task(void *ctx, int64_t item, int worker)
{
    (void)worker;
    const run *r = ctx;
    const int32_t h = (int32_t)item;
    uint16_t *table = r->e_table[h];
    if (table)
        r->job->uk->exp_table(&r->job->params[h], table);
}

/* The heads' tables in ws (grown when needed and kept), or none if memory is short; sets
 * r->e_table[h] for every head (NULL: computed weights). */
static void build_tables(const qattn_attention_job *job, qattn_attn_workspace *ws, run *r)
{
    for (int32_t h = 0; h < job->heads; h++)
        r->e_table[h] = NULL;
    size_t total = 0;
    for (int32_t h = 0; h < job->heads; h++)
        total += table_entries(job, h);
    if (total == 0)
        return;
    ws->e_tables = qattn_reserve(ws->e_tables, &ws->e_bytes, total * sizeof(uint16_t));
    if (!ws->e_tables)
        return; /* the arithmetic gives the same weights */
    size_t at = 0;
    for (int32_t h = 0; h < job->heads; h++) {
        const size_t n = table_entries(job, h);
        if (n == 0)
            continue;
        r->e_table[h] = ws->e_tables + at;
        at += n;
    }
    /* one head's table per task (they were built on the calling thread while the others
     * waited: large-v3's 20 a layer took 2.6 ms, now 0.9 on 2 threads with the scratch kept) */
    qattn_parallel_for(qattn_workers_for(job->threads, job->heads), job->heads, table_task, r);
}

qattn_status qattn_attention_run(const qattn_attention_job *job, qattn_attn_workspace *ws)
{
    run r; /* not zeroed whole: e_table has room for QATTN_MAX_HEADS; build_tables sets the
            * job's heads */
    r.job = job;
    /* Fast tiers take 64 rows per query tile: the microkernels' scratch is per tile, not
     * bound by the accelerator's 64 KiB; rows are independent, so this changes nothing. */
    r.tile_rows = job->uk ? QATTN_TILE_ROWS : qattn_tile_rows_for_head_dim(job->head_dim);
    r.q_tiles = (job->len_q + r.tile_rows - 1) / r.tile_rows;
    const int64_t q_items = (int64_t)job->heads * r.q_tiles;
    const int workers = qattn_workers_for(job->threads, q_items);
    qattn_attn_workspace temporary = {0, 0, NULL, NULL, 0};
    qattn_attn_workspace *w = ws ? ws : &temporary;
    if (!reserve(w, workers, job->head_dim))
        return qattn_fail(QATTN_ERR_NOMEM, "attention: out of memory");
    r.mem = w->mem;
    build_tables(job, w, &r);
    qattn_parallel_for(workers, q_items, query_tile_task, &r);
    if (!ws)
        qattn_attn_workspace_free(&temporary);
    return QATTN_OK;
}
