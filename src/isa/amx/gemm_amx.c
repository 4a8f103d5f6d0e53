/*
 * INT8 GEMM on Intel AMX (AMX-TILE, AMX-INT8), over the AVX-512 VNNI tier's packed panels.
 * Compiled with the AVX-512 VNNI flags and -mamx-tile -mamx-int8; called only where the
 * dispatch found AMX with its OS state and the tier resolution was granted the tile data
 * permission (core/tiers.c asks when AMX is chosen; gemm asks again, once per process, so a
 * caller that names the tier directly is covered too).
 *
 * tdpbusd multiplies u8 by s8 into int32 exactly as vpdpbusd does, 64 products per output
 * per instruction, so this tier keeps the VNNI tier's forms: activations in u8 form
 * (x ^ 0x80, prepare_x) and panels [k/4][64][4] with the column sums (panel_s8.h). A B tile
 * is 16 columns of a panel over 64 inputs: 16 rows (groups of 4 inputs) of 64 bytes, read
 * with the panel's row stride of 256 bytes; an A tile is 16 activation rows over the same 64
 * inputs. Blocks of 32 rows x 32 columns keep 4 accumulator tiles (8 tiles in all) over the
 * whole of k (k blocks of 512 measured no faster on large-v3, k up to 5120). The
 * accumulators start from -128 x the column sums (one 64-byte row loaded into all 16 rows of
 * a tile), so the tiles' sums are final where k is a multiple of 64; panel_rows adds any
 * inputs past the last multiple of 64: the same exact integers as the VNNI tier. (Correcting
 * after the tiles' stores, as before, read every sum straight back: the fused GEMMs of base's
 * shapes are 2-4% faster this way.) Rows past the last 32, panels narrower than 64 columns
 * and k < 64 go through panel_rows alone.
 * The tiles: isa/amx/amx_tiles.h. Linux's arch_prctl(ARCH_REQ_XCOMP_PERM) grants them.
 */
#include <immintrin.h>
#include <stdint.h>

#include "core/cpu.h"
#include "gemm/gemm_ukernels.h"
#include "isa/amx/amx_tiles.h"
#include "isa/avx512vnni/panel_s8.h"

static void prepare_x(int8_t *x8, size_t n)
{
    offset_to_u8(x8, n);
}

/* What the VNNI tier does with a panel's rows [i0, m): all of k, in blocks. */
static void vnni_rows(const uint8_t *xu, ptrdiff_t ldx, int32_t i0, int32_t m, const int8_t *panel,
                      int32_t k, int32_t *acc, ptrdiff_t ldc, int32_t ncols)
{
    for (int32_t t0 = 0; t0 < k; t0 += PANEL_K_BLOCK) {
        const int32_t t1 = k - t0 < PANEL_K_BLOCK ? k : t0 + PANEL_K_BLOCK;
        const int first = t0 == 0, last = t1 == k;
        int32_t i = i0;
        for (; i + 4 <= m; i += 4)
            panel_rows(xu + i * ldx, ldx, 4, panel, k, t0, t1, first, last, acc + i * ldc, ldc, ncols);
        for (; i < m; i++)
            panel_rows(xu + i * ldx, ldx, 1, panel, k, t0, t1, first, last, acc + i * ldc, ldc, ncols);
    }
}

static void gemm(const int8_t *x8, ptrdiff_t ldx, int32_t m, const void *packed, int32_t n,
                 int32_t k, int32_t n0, int32_t nc, int32_t *acc, ptrdiff_t ldc)
{
    (void)n;
    const uint8_t *xu = (const uint8_t *)x8;
    const int32_t k64 = k / 64 * 64, m32 = m / 32 * 32;
    const int tiles = k64 > 0 && m32 > 0 && qattn_cpu_request_amx();
    if (tiles)
        amx_configure();
    _Alignas(64) int32_t correction[64];
    for (int32_t j = 0; j < nc; j += 64) {
        const int8_t *panel = (const int8_t *)packed + (size_t)((n0 + j) / 64) * panel_bytes(k);
        const int32_t ncols = nc - j < 64 ? nc - j : 64;
        const int32_t amx_rows = tiles && ncols == 64 ? m32 : 0;
        if (amx_rows > 0) { /* the offset's correction, -128 x each column's sum */
            const __m512i *colsum = (const __m512i *)(panel + (size_t)64 * k);
            for (int b = 0; b < 4; b++) {
                const __m512i times128 = _mm512_slli_epi32(_mm512_loadu_si512(colsum + b), 7);
                _mm512_store_si512(correction + 16 * b,
                                   _mm512_sub_epi32(_mm512_setzero_si512(), times128));
            }
        }
        for (int32_t i = 0; i < amx_rows; i += 32) {
            for (int h = 0; h < 2; h++)
                amx_block_32x32(xu + i * ldx, ldx, panel, 0, k64, 1, correction, h,
                                acc + i * ldc + j, ldc, 0);
            for (int32_t r = i; k64 < k && r < i + 32; r += 4) /* inputs [k64, k) */
                panel_rows(xu + r * ldx, ldx, 4, panel, k, k64, k, 0, 0, acc + r * ldc + j, ldc,
                           64);
        }
        vnni_rows(xu, ldx, amx_rows, m, panel, k, acc + j, ldc, ncols);
    }
}

const struct qattn_gemm_ukernels qattn_gemm_ukernels_amx = {
    "amx", 64, 64, 256, panels_bytes, panels_pack, prepare_x, gemm, NULL,
};
