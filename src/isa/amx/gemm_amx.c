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
 * inputs. Blocks of 32 rows x 32 columns keep 4 accumulator tiles (8 tiles in all). The
 * int32 sums are stored raw; panel_rows then adds the inputs past the last multiple of 64
 * and subtracts 128 x the column sums (its `last` step): the same exact integers as the VNNI
 * tier. Rows past the last 32, panels narrower than 64 columns and k < 64 go through
 * panel_rows alone.
 *
 * Intel 64 and IA-32 Architectures Software Developer's Manual, vol. 1 ch. 18 (AMX) and
 * vol. 2 (LDTILECFG, TILELOADD, TDPBUSD); Linux's arch_prctl(ARCH_REQ_XCOMP_PERM).
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "gemm/gemm_ukernels.h"
#include "isa/avx512vnni/panel_s8.h"

/* LDTILECFG's 64-byte operand (palette 1). */
typedef struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

enum { TILE_K = 64 }; /* inputs per A/B tile: 64 bytes a row */

static void prepare_x(int8_t *x8, size_t n)
{
    offset_to_u8(x8, n);
}

/* Tiles 0-3: the 2 x 2 accumulators (16 rows of 16 int32); 4, 5: A (16 rows of 64 u8);
 * 6, 7: B (16 rows of 16 columns x 4 s8). */
static void configure_tiles(void)
{
    tile_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++)
        c.rows[t] = 16, c.colsb[t] = 64;
    _tile_loadconfig(&c);
}

/* Raw u8 . s8 sums of rows [i, i + 32) x panel columns [32 h, 32 h + 32) over inputs
 * [0, k64) into acc (rows ldc apart). */
static void block_32x32(const uint8_t *xu, ptrdiff_t ldx, const int8_t *panel, int32_t k64, int h,
                        int32_t *acc, ptrdiff_t ldc)
{
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int32_t t = 0; t < k64; t += TILE_K) {
        const int8_t *b = panel + ((size_t)(t / 4) * 64 + 32 * h) * 4;
        _tile_loadd(4, xu + t, ldx);
        _tile_loadd(5, xu + 16 * ldx + t, ldx);
        _tile_loadd(6, b, 256);
        _tile_loadd(7, b + 64, 256);
        _tile_dpbusd(0, 4, 6);
        _tile_dpbusd(1, 4, 7);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
    }
    const ptrdiff_t stride = ldc * (ptrdiff_t)sizeof(int32_t);
    int32_t *c = acc + 32 * h;
    _tile_stored(0, c, stride);
    _tile_stored(1, c + 16, stride);
    _tile_stored(2, c + 16 * ldc, stride);
    _tile_stored(3, c + 16 * ldc + 16, stride);
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
    const int32_t k64 = k / TILE_K * TILE_K, m32 = m / 32 * 32;
    const int tiles = k64 > 0 && m32 > 0 && qattn_cpu_request_amx();
    if (tiles)
        configure_tiles();
    for (int32_t j = 0; j < nc; j += 64) {
        const int8_t *panel = (const int8_t *)packed + (size_t)((n0 + j) / 64) * panel_bytes(k);
        const int32_t ncols = nc - j < 64 ? nc - j : 64;
        int32_t amx_rows = tiles && ncols == 64 ? m32 : 0;
        for (int32_t i = 0; i < amx_rows; i += 32) {
            for (int h = 0; h < 2; h++)
                block_32x32(xu + i * ldx, ldx, panel, k64, h, acc + i * ldc + j, ldc);
            /* inputs [k64, k), then the offset's correction: the sums become final */
            for (int32_t r = i; r < i + 32; r += 4)
                panel_rows(xu + r * ldx, ldx, 4, panel, k, k64, k, 0, 1, acc + r * ldc + j, ldc, 64);
        }
        vnni_rows(xu, ldx, amx_rows, m, panel, k, acc + j, ldc, ncols);
    }
    if (tiles)
        _tile_release();
}

const struct qattn_gemm_ukernels qattn_gemm_ukernels_amx = {
    "amx", 64, 64, 256, panels_bytes, panels_pack, prepare_x, gemm,
};
