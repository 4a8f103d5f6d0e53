/*
 * INT8 GEMM for AVX-512 VNNI over panels of 64 columns (panel_s8.h: the layout and the
 * 4 x 64 kernel, shared with the attention scores).
 */
#include <immintrin.h>

#include "gemm/gemm_ukernels.h"
#include "isa/avx512vnni/panel_s8.h"

static size_t packed_bytes(int32_t n, int32_t k)
{
    return (size_t)((n + 63) / 64) * panel_bytes(k);
}

static void pack(const int8_t *w8, int32_t n, int32_t k, void *packed)
{
    for (int32_t p = 0; p < (n + 63) / 64; p++)
        panel_pack(w8 + (size_t)p * 64 * k, k, n - p * 64 < 64 ? n - p * 64 : 64, k,
                   (int8_t *)packed + (size_t)p * panel_bytes(k));
}

static void gemm(const int8_t *x8, ptrdiff_t ldx, int32_t m, const void *packed, int32_t n,
                 int32_t k, int32_t n0, int32_t nc, int32_t *acc, ptrdiff_t ldc)
{
    (void)n;
    for (int32_t j = 0; j < nc; j += 64) {
        const int8_t *panel = (const int8_t *)packed + (size_t)((n0 + j) / 64) * panel_bytes(k);
        int32_t ncols = nc - j < 64 ? nc - j : 64;
        int32_t i = 0;
        for (; i + 4 <= m; i += 4)
            panel_rows(x8 + i * ldx, ldx, 4, panel, k, acc + i * ldc + j, ldc, ncols);
        for (; i < m; i++)
            panel_rows(x8 + i * ldx, ldx, 1, panel, k, acc + i * ldc + j, ldc, ncols);
    }
}

const struct qattn_gemm_ukernels qattn_gemm_ukernels_avx512vnni = {
    "avx512vnni", 64, 64, 256, packed_bytes, pack, gemm,
};
