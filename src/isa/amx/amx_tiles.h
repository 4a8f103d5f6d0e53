/*
 * AMX tile helpers shared by the AMX tier's kernels: the one tile configuration they all use
 * and the 32 x 32 block of u8 . s8 sums over a panel (isa/avx512vnni/panel_s8.h's layout).
 * Include only from files compiled with -mamx-tile -mamx-int8.
 *
 * Intel 64 and IA-32 Architectures Software Developer's Manual, vol. 1 ch. 18 (AMX) and
 * vol. 2 (LDTILECFG, TILELOADD, TDPBUSD, TILESTORED).
 */
#ifndef QATTN_ISA_AMX_TILES_H
#define QATTN_ISA_AMX_TILES_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* LDTILECFG's 64-byte operand (palette 1). */
typedef struct amx_tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_tile_config;

/* All 8 tiles 16 rows of 64 bytes: tiles 0-3 accumulators (16 x 16 int32), 4-5 the u8
 * operand (16 rows of 64 inputs), 6-7 the s8 operand (16 groups of 4 inputs x 16 columns).
 * Loaded only when the thread's current configuration differs (STTILECFG, ~5 ns), and left
 * loaded after the kernels: an LDTILECFG and TILERELEASE pair per call costs ~50 ns, and
 * attention's two products run per 64-key tile (~5% of its time). Code that uses AMX in the
 * same thread loads its own configuration first, as it must. */
static inline void amx_configure(void)
{
    amx_tile_config want, have;
    memset(&want, 0, sizeof want);
    want.palette = 1;
    for (int t = 0; t < 8; t++)
        want.rows[t] = 16, want.colsb[t] = 64;
    _tile_storeconfig(&have);
    if (memcmp(&want, &have, sizeof want) != 0)
        _tile_loadconfig(&want);
}

/* Sums acc[i][j] (+)= sum_t x[i][t] * column_j[t] for rows i < 32 (ldx bytes apart) and
 * columns [32 h, 32 h + 32) of a panel (64 columns, rows of 4-input groups 256 bytes apart),
 * over inputs [t0, t1) (multiples of 64): `first` starts from start[j] (the same for every
 * row: a tile loaded with a row stride of 0; start NULL: zero), else from acc; stored as
 * int32 rows ldc apart. x is u8 (tdpbusd), or s8 with `signed_x` (tdpbssd). */
static inline void amx_block_32x32(const void *x, ptrdiff_t ldx, const int8_t *panel,
                                   int32_t t0, int32_t t1, int first, const int32_t *start,
                                   int h, int32_t *acc, ptrdiff_t ldc, int signed_x)
{
    const uint8_t *xu = x;
    const ptrdiff_t stride = ldc * (ptrdiff_t)sizeof(int32_t);
    int32_t *c = acc + 32 * h;
    if (first && start) {
        _tile_loadd(0, start + 32 * h, 0);
        _tile_loadd(1, start + 32 * h + 16, 0);
        _tile_loadd(2, start + 32 * h, 0);
        _tile_loadd(3, start + 32 * h + 16, 0);
    } else if (first) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    } else {
        _tile_loadd(0, c, stride);
        _tile_loadd(1, c + 16, stride);
        _tile_loadd(2, c + 16 * ldc, stride);
        _tile_loadd(3, c + 16 * ldc + 16, stride);
    }
    for (int32_t t = t0; t < t1; t += 64) {
        const int8_t *b = panel + ((size_t)(t / 4) * 64 + 32 * h) * 4;
        _tile_loadd(4, xu + t, ldx);
        _tile_loadd(5, xu + 16 * ldx + t, ldx);
        _tile_loadd(6, b, 256);
        _tile_loadd(7, b + 64, 256);
        if (signed_x) {
            _tile_dpbssd(0, 4, 6);
            _tile_dpbssd(1, 4, 7);
            _tile_dpbssd(2, 5, 6);
            _tile_dpbssd(3, 5, 7);
        } else {
            _tile_dpbusd(0, 4, 6);
            _tile_dpbusd(1, 4, 7);
            _tile_dpbusd(2, 5, 6);
            _tile_dpbusd(3, 5, 7);
        }
    }
    _tile_stored(0, c, stride);
    _tile_stored(1, c + 16, stride);
    _tile_stored(2, c + 16 * ldc, stride);
    _tile_stored(3, c + 16 * ldc + 16, stride);
}

#endif
