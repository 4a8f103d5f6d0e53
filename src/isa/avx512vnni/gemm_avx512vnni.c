/*
 * INT8 GEMM for AVX-512 VNNI over panels of 64 columns (panel_s8.h: the layout and the
 * 4 x 64 kernel, shared with the attention scores). The activations come in u8 form
 * (prepare_x), and each panel is walked in k blocks so its slice stays in L1 for all rows.
 */
#include <immintrin.h>

#include "gemm/gemm_ukernels.h"
#include "isa/avx512vnni/panel_s8.h"

static void prepare_x(int8_t *x8, size_t n)
{
    offset_to_u8(x8, n);
}

static void gemm(const int8_t *x8, ptrdiff_t ldx, int32_t m, const void *packed, int32_t n,
                 int32_t k, int32_t n0, int32_t nc, int32_t *acc, ptrdiff_t ldc)
{
    (void)n;
    const uint8_t *xu = (const uint8_t *)x8;
    for (int32_t j = 0; j < nc; j += 64) {
        const int8_t *panel = (const int8_t *)packed + (size_t)((n0 + j) / 64) * panel_bytes(k);
        const int32_t ncols = nc - j < 64 ? nc - j : 64;
        for (int32_t t0 = 0; t0 < k; t0 += PANEL_K_BLOCK) {
            const int32_t t1 = k - t0 < PANEL_K_BLOCK ? k : t0 + PANEL_K_BLOCK;
            const int first = t0 == 0, last = t1 == k;
            int32_t i = 0;
            for (; i + 4 <= m; i += 4)
                panel_rows(xu + i * ldx, ldx, 4, panel, k, t0, t1, first, last,
                           acc + i * ldc + j, ldc, ncols);
            for (; i < m; i++)
                panel_rows(xu + i * ldx, ldx, 1, panel, k, t0, t1, first, last,
                           acc + i * ldc + j, ldc, ncols);
        }
    }
}

const struct qattn_gemm_ukernels qattn_gemm_ukernels_avx512vnni = {
    "avx512vnni", 64, 64, 256, panels_bytes, panels_pack, prepare_x, gemm, NULL,
};
