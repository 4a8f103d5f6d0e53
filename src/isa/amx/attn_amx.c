/*
 * Attention microkernels of the AMX tier: QK^T and P.V on AMX tiles, everything else (the
 * packed K/V layout, the softmax and its table, the rescale, the output rows) the AVX-512
 * VNNI tier's (isa/avx512vnni/attn_avx512vnni.h), so both tiers read the same packed tiles and
 * P rows. Both products are exact int32 sums, as on VNNI.
 *
 * QK^T: the packed key tile is one panel of panel_s8.h; 32-row blocks of the s8 queries on
 * tiles (amx_block_32x32 with tdpbssd: s8 by s8, no offset to correct).
 * P.V: a P row is e_lo[64] then e_hi[64] (u8); V is [16][d][4] (keys 4g..4g+3 of column t at
 * [g][t]), which is the s8 tile operand's layout for 16 columns at a stride of 4 d bytes. 16
 * rows x 32 columns at a time: the low and high bytes' sums in 4 accumulator tiles over up to
 * QATTN_PV_TILES_MAX key tiles (pv_tiles), added as 256 hi + lo to the int64 accumulators
 * where a row's maximum rose and at the end.
 * Row blocks the tiles do not fill go through the VNNI kernels.
 */
#include <immintrin.h>
#include <stdint.h>

#include "attn/ukernels.h"
#include "core/cpu.h"
#include "isa/amx/amx_tiles.h"
#include "isa/avx512vnni/attn_avx512vnni.h"
#include "isa/avx512vnni/panel_s8.h"

/* Whole 32-row blocks at a head dimension that is a multiple of 64 (every Whisper head) go on
 * tiles as they are: tdpbssd takes the s8 queries, so neither the u8 copy nor the key sums'
 * correction of the VNNI kernel is needed. The rest goes through the VNNI kernel. */
static void scores(const int8_t *q, ptrdiff_t q_stride, int32_t rows, const void *packed,
                   int32_t d, int32_t *s)
{
    const int32_t rows32 = d % 64 == 0 ? rows / 32 * 32 : 0;
    if (rows32 == 0 || !qattn_cpu_request_amx()) {
        qattn_avx512_attn_scores(q, q_stride, rows, packed, d, s);
        return;
    }
    amx_configure();
    for (int32_t r = 0; r < rows32; r += 32)
        for (int h = 0; h < 2; h++)
            amx_block_32x32(q + r * q_stride, q_stride, packed, 0, d, 1, NULL, h, s + r * 64, 64,
                                1);
    if (rows32 < rows)
        qattn_avx512_attn_scores(q + rows32 * q_stride, q_stride, rows - rows32, packed, d,
                                 s + rows32 * 64);
}

/* Key tiles one at a time: each tile's rescales (alpha NULL: none), then its P.V by the VNNI
 * kernel (rows that tiles do not fill, and shapes they do not take). */
static void pv_tiles_each(const uint8_t *p, int32_t rows, int32_t tiles, const uint8_t *packed,
                          size_t tile_bytes, const uint32_t *alpha, int32_t d, int64_t *acc)
{
    for (int32_t kt = 0; kt < tiles; kt++) {
        for (int32_t i = 0; alpha && i < rows; i++)
            if (alpha[(size_t)kt * QATTN_TILE_ROWS + i] != 65536)
                qattn_avx512_attn_rescale(acc + (size_t)i * d, d,
                                          alpha[(size_t)kt * QATTN_TILE_ROWS + i]);
        qattn_avx512_attn_pv(p + (size_t)kt * QATTN_TILE_ROWS * QATTN_P_ROW_BYTES, rows,
                             packed + kt * tile_bytes, d, acc);
    }
}

/* acc[t] += 256 hi[t] + lo[t] for 16 columns, in int64: sums held over many key tiles may
 * pass 2^31 once combined. */
static inline void fold16(int64_t *a, __m512i lo, __m512i hi)
{
    const __m512i lo0 = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(lo));
    const __m512i lo1 = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(lo, 1));
    const __m512i hi0 = _mm512_slli_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(hi)), 8);
    const __m512i hi1 =
        _mm512_slli_epi64(_mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(hi, 1)), 8);
    _mm512_storeu_si512(a, _mm512_add_epi64(_mm512_loadu_si512(a), _mm512_add_epi64(lo0, hi0)));
    _mm512_storeu_si512(a + 8,
                        _mm512_add_epi64(_mm512_loadu_si512(a + 8), _mm512_add_epi64(lo1, hi1)));
}

/*
 * P.V over several key tiles with the sums kept on the tiles between them: 16 rows x 32
 * columns of low- and high-byte sums (4 accumulator tiles) run over the key tiles, and reach
 * the int64 accumulators only where a row's maximum rose (that row: folded, then rescaled,
 * its sums zeroed) and at the end. The int64 results are the same as tile by tile: integer
 * sums in another order. Bound: a tile adds at most 64 * 255 * 128 < 2^21 to a byte sum, so
 * int32 holds 1024 tiles (the glue passes at most QATTN_PV_TILES_MAX). alpha NULL: no
 * rescales (pv, one tile).
 */
static void pv_tiles(const void *p_rows, int32_t rows, int32_t tiles, const void *packed,
                     size_t tile_bytes, const uint32_t *alpha, int32_t d, int64_t *acc)
{
    const uint8_t *p = p_rows;
    const uint8_t *kv = packed;
    const int32_t rows16 = rows / 16 * 16;
    if (d % 32 != 0 || rows16 == 0 || !qattn_cpu_request_amx()) {
        pv_tiles_each(p, rows, tiles, kv, tile_bytes, alpha, d, acc);
        return;
    }
    const ptrdiff_t v_stride = (ptrdiff_t)d * 4;
    const size_t v_offset = panel_bytes(d);
    const __m512i no_rescale = _mm512_set1_epi32(65536);
    _Alignas(64) int32_t c[4][16][16]; /* lo, hi of columns [0, 16); lo, hi of [16, 32) */
    amx_configure();
    for (int32_t r = 0; r < rows16; r += 16)
        for (int32_t t0 = 0; t0 < d; t0 += 32) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int32_t kt = 0; kt < tiles; kt++) {
                const uint32_t *a = alpha ? alpha + (size_t)kt * QATTN_TILE_ROWS + r : NULL;
                __mmask16 rise =
                    a ? _mm512_cmpneq_epu32_mask(_mm512_loadu_si512(a), no_rescale) : 0;
                if (rise) {
                    _tile_stored(0, c[0], 64);
                    _tile_stored(1, c[1], 64);
                    _tile_stored(2, c[2], 64);
                    _tile_stored(3, c[3], 64);
                    for (; rise; rise &= (__mmask16)(rise - 1)) {
                        const int i = __builtin_ctz(rise);
                        int64_t *row = acc + (size_t)(r + i) * d + t0;
                        for (int half = 0; half < 2; half++) {
                            fold16(row + 16 * half, _mm512_load_si512(c[2 * half][i]),
                                   _mm512_load_si512(c[2 * half + 1][i]));
                            for (int b = 0; b < 2; b++)
                                _mm512_store_si512(c[2 * half + b][i], _mm512_setzero_si512());
                        }
                        qattn_avx512_attn_rescale(row, 32, a[i]);
                    }
                    _tile_loadd(0, c[0], 64);
                    _tile_loadd(1, c[1], 64);
                    _tile_loadd(2, c[2], 64);
                    _tile_loadd(3, c[3], 64);
                }
                const uint8_t *row = p + ((size_t)kt * QATTN_TILE_ROWS + r) * QATTN_P_ROW_BYTES;
                const int8_t *vp =
                    (const int8_t *)(kv + kt * tile_bytes + v_offset) + (size_t)t0 * 4;
                _tile_loadd(4, row, QATTN_P_ROW_BYTES);      /* e_lo of 16 rows */
                _tile_loadd(5, row + 64, QATTN_P_ROW_BYTES); /* e_hi */
                _tile_loadd(6, vp, v_stride);
                _tile_loadd(7, vp + 64, v_stride);
                _tile_dpbusd(0, 4, 6);
                _tile_dpbusd(1, 5, 6);
                _tile_dpbusd(2, 4, 7);
                _tile_dpbusd(3, 5, 7);
            }
            _tile_stored(0, c[0], 64);
            _tile_stored(1, c[1], 64);
            _tile_stored(2, c[2], 64);
            _tile_stored(3, c[3], 64);
            for (int i = 0; i < 16; i++)
                for (int half = 0; half < 2; half++)
                    fold16(acc + (size_t)(r + i) * d + t0 + 16 * half,
                           _mm512_load_si512(c[2 * half][i]),
                           _mm512_load_si512(c[2 * half + 1][i]));
        }
    if (rows16 < rows)
        pv_tiles_each(p + (size_t)rows16 * QATTN_P_ROW_BYTES, rows - rows16, tiles, kv, tile_bytes,
                      alpha ? alpha + rows16 : NULL, d, acc + (size_t)rows16 * d);
}

/* One key tile: pv_tiles without rescales. */
static void pv(const void *p_rows, int32_t rows, const void *packed, int32_t d, int64_t *acc)
{
    pv_tiles(p_rows, rows, 1, packed, 0, NULL, d, acc);
}

const qattn_attn_ukernels qattn_attn_ukernels_amx = {
    "amx", qattn_avx512_attn_kv_tile_bytes, qattn_avx512_attn_pack_kv, scores,
    qattn_avx512_attn_softmax_rows, qattn_avx512_attn_exp_table, pv,
    qattn_avx512_attn_rescale, qattn_avx512_attn_finish, pv_tiles,
};
