/* Stage timing: the same microkernel calls the glue makes for an unmasked call, one stage
 * at a time on one thread, so their sum can be set against the whole call. */
#include "bench/stages.h"

#include <stdlib.h>
#include <string.h>

#include "attn/tile_params.h"
#include "bench/peak.h"
#include "attn/ukernels.h"
#include "core/tiers.h"

int bench_time_stages(qattn_isa isa, const int8_t *q, const int8_t *k, const int8_t *v,
                      int heads, int len_q, int len_k, int d, const float scales[4],
                      bench_stages *out)
{
    qattn_isa chosen;
    const qattn_attn_ukernels *uk;
    qattn_tile_params p;
    if (qattn_tier_resolve(isa, &chosen) != QATTN_OK || !(uk = qattn_attn_kernels_for(chosen)) ||
        qattn_tile_params_make(&p, d, scales[0], scales[1], scales[2], scales[3]) != QATTN_OK)
        return 0;
    const int q_tiles = (len_q + 63) / 64, k_tiles = (len_k + 63) / 64;
    const size_t tile_bytes = (uk->kv_tile_bytes(d) + 63) / 64 * 64;
    uint8_t *packed = aligned_alloc(64, (size_t)heads * k_tiles * tile_bytes);
    int32_t *s = aligned_alloc(64, 64 * 64 * sizeof(int32_t));
    uint8_t *pr = aligned_alloc(64, 64 * QATTN_P_ROW_BYTES);
    int64_t *acc = calloc((size_t)64 * d, sizeof(int64_t));
    /* the weight table the glue builds for a head this long (attention_tiled.c), if any */
    uint16_t *table = uk->exp_table && len_q >= 256 && p.d_zero < (1 << 18) - 2 &&
                              (int64_t)len_q * len_k >= 4 * ((int64_t)p.d_zero + 2)
                          ? aligned_alloc(64, ((size_t)p.d_zero + 2 + 31) / 32 * 64)
                          : NULL;
    if (!packed || !s || !pr || !acc) {
        free(packed), free(s), free(pr), free(acc), free(table);
        return 0;
    }
    double t = bench_now();
    for (int h = 0; h < heads; h++)
        for (int kt = 0; kt < k_tiles; kt++) {
            int keys = len_k - kt * 64 < 64 ? len_k - kt * 64 : 64;
            size_t off = ((size_t)h * len_k + (size_t)kt * 64) * d;
            uk->pack_kv(k + off, v + off, d, 0, keys, d, packed + ((size_t)h * k_tiles + kt) * tile_bytes);
        }
    out->pack_ms = (bench_now() - t) * 1e3;

    t = bench_now();
    for (int h = 0; h < heads; h++)
        for (int qt = 0; qt < q_tiles; qt++) {
            int rows = len_q - qt * 64 < 64 ? len_q - qt * 64 : 64;
            for (int kt = 0; kt < k_tiles; kt++)
                uk->scores(q + ((size_t)h * len_q + (size_t)qt * 64) * d, d, rows,
                           packed + ((size_t)h * k_tiles + kt) * tile_bytes, d, s);
        }
    out->scores_ms = (bench_now() - t) * 1e3;

    /* The weights of the last score tile, over and over: as in the real call, the tile is
     * in L1 and each row's running maximum is a real one. */
    int64_t lanes = 0;
    int32_t allowed[64], m_old[64], m_new[64], sums[64];
    for (int r = 0; r < 64; r++)
        m_old[r] = INT32_MIN;
    t = bench_now();
    for (int h = 0; h < heads; h++) {
        if (table)
            uk->exp_table(&p, table); /* once per head, as the glue does */
        for (int qt = 0; qt < q_tiles; qt++) {
            int rows = len_q - qt * 64 < 64 ? len_q - qt * 64 : 64;
            for (int kt = 0; kt < k_tiles; kt++) {
                int keys = len_k - kt * 64 < 64 ? len_k - kt * 64 : 64;
                for (int r = 0; r < rows; r++)
                    allowed[r] = keys;
                uk->softmax_rows(s, rows, allowed, m_old, &p, table, pr, m_new, sums);
                lanes += (int64_t)rows * 64;
            }
        }
    }
    double softmax_s = bench_now() - t;
    out->softmax_ms = softmax_s * 1e3;
    out->softmax_gscores = (double)lanes / softmax_s * 1e-9;

    /* P.V as the glue calls it: tile by tile, or QATTN_PV_TILES_MAX tiles a call (pv_tiles,
     * no rescale between them: a row's maximum rises at a few tiles of the 24) */
    uint32_t alpha[QATTN_PV_TILES_MAX * 64];
    for (int i = 0; i < QATTN_PV_TILES_MAX * 64; i++)
        alpha[i] = 65536;
    uint8_t *pr_tiles =
        uk->pv_tiles ? aligned_alloc(64, QATTN_PV_TILES_MAX * 64 * QATTN_P_ROW_BYTES) : NULL;
    for (int i = 0; pr_tiles && i < QATTN_PV_TILES_MAX; i++)
        memcpy(pr_tiles + (size_t)i * 64 * QATTN_P_ROW_BYTES, pr, 64 * QATTN_P_ROW_BYTES);
    t = bench_now();
    for (int h = 0; h < heads; h++)
        for (int qt = 0; qt < q_tiles; qt++) {
            int rows = len_q - qt * 64 < 64 ? len_q - qt * 64 : 64;
            for (int kt = 0; kt < k_tiles;) {
                const uint8_t *tile = packed + ((size_t)h * k_tiles + kt) * tile_bytes;
                if (pr_tiles) {
                    int n = k_tiles - kt < QATTN_PV_TILES_MAX ? k_tiles - kt : QATTN_PV_TILES_MAX;
                    uk->pv_tiles(pr_tiles, rows, n, tile, tile_bytes, alpha, d, acc);
                    kt += n;
                } else {
                    uk->pv(pr, rows, tile, d, acc);
                    kt++;
                }
            }
        }
    out->pv_ms = (bench_now() - t) * 1e3;
    free(pr_tiles);
    out->softmax_table = table != NULL;
    free(packed), free(s), free(pr), free(acc), free(table);
    return 1;
}
