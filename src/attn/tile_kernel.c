/*
 * The integer attention tile kernel (reference). See tile_kernel.h for the contract and
 * docs/quantization.md for the derivation and the overflow proofs cited as [Qn] below.
 *
 * Freestanding translation unit: compiled in CI with -ffreestanding -nostdlib -fno-builtin
 * and checked to reference no external symbol.
 */
#include "tile_kernel.h"

/* 2^(-i/32) in Q24 for i = 0..31 (round to nearest; entry 0 is exactly 1.0). */
const uint32_t qattn_exp2_neg_q24[32] = {
    16777216, 16417715, 16065917, 15721658, 15384775, 15055111, 14732511, 14416824,
    14107901, 13805598, 13509772, 13220286, 12937002, 12659789, 12388516, 12123055,
    11863283, 11609078, 11360319, 11116891, 10878679, 10645571, 10417458, 10194234,
    9975792, 9762032, 9552851, 9348154, 9147842, 8951823, 8760003, 8572295,
};

/* Floor of x / 2^s for any sign; C leaves >> of a negative value implementation-defined. */
static int64_t shift_right_floor(int64_t x, int s)
{
    return x >= 0 ? x >> s : -(int64_t)((((uint64_t)-(x + 1)) >> s) + 1);
}

static int bit_length_u64(uint64_t x)
{
    int n = 0;
    while (x) {
        x >>= 1;
        n++;
    }
    return n;
}

/*
 * [Q3] 2^-y, y = n + f with n = y >> 16 and f in [0, 1) as Q16. f splits into a 5-bit
 * table index i and an 11-bit remainder r: 2^-f = 2^(-i/32) * e^-x, x = r ln2 / 2^16 <
 * 0.0217, and e^-x = 1 - x + x^2/2 to within x^3/6 < 1.7e-6 (0.11 Q16 units). The table
 * and the polynomial are Q24; their product (< 2^48) is the only 64-bit step. The result
 * is within 0.62 Q16 units of 65536 * 2^(-y/65536) (tests/c/test_exp2.c checks every y).
 */
uint32_t qattn_exp2_neg_q16(int32_t y)
{
    if (y >= QATTN_EXP_Y_ZERO)
        return 0;
    uint32_t n = (uint32_t)y >> 16;
    uint32_t f = (uint32_t)y & 0xFFFFu;
    uint32_t r = f & 0x7FFu;
    uint32_t x = (r * 1453635u + 4096u) >> 13;     /* r ln2 / 2^16 in Q24; 1453635 = ln2 2^21 */
    uint32_t x16 = x >> 8;                          /* the same in Q16, for the square */
    uint32_t poly = (1u << 24) - x + ((x16 * x16 + 256u) >> 9); /* Q24, <= 2^24 */
    uint64_t prod = (uint64_t)qattn_exp2_neg_q24[f >> 11] * poly;     /* Q48, <= 2^48 */
    uint32_t shift = 32u + n;                                    /* <= 48 */
    return (uint32_t)((prod + ((uint64_t)1 << (shift - 1))) >> shift);
}

int32_t qattn_score_exponent(int32_t d, const qattn_tile_params *p)
{
    /* [Q2] 0 <= d < 2^24 and score_mult < 2^31: the product is below 2^55. */
    int64_t half = p->score_shift > 0 ? (int64_t)1 << (p->score_shift - 1) : 0;
    int64_t y = ((int64_t)d * p->score_mult + half) >> p->score_shift;
    return y >= QATTN_EXP_Y_ZERO ? QATTN_EXP_Y_ZERO : (int32_t)y;
}

void qattn_tile_begin(qattn_tile_state *st)
{
    for (int32_t r = 0; r < st->rows; r++) {
        st->row_max[r] = INT32_MIN;
        st->row_sum[r] = 0;
        for (int32_t t = 0; t < st->head_dim; t++)
            st->acc[(ptrdiff_t)r * st->head_dim + t] = 0;
    }
}

/* [Q5] x * alpha / 2^16 rounded half up, alpha in [0, 65536]; |x| < 2^46 keeps it exact. */
static int64_t rescale(int64_t x, uint32_t alpha)
{
    return shift_right_floor(x * (int64_t)alpha + 32768, 16);
}

uint32_t qattn_tile_raise_max(int32_t *row_max, int64_t *row_sum, int32_t new_max,
                              const qattn_tile_params *p)
{
    uint32_t alpha = 65536; /* rescale by 65536 / 2^16 is the identity */
    if (new_max <= *row_max)
        return alpha;
    /* [Q4] Online softmax: a new maximum rescales what was summed so far by 2^-y. */
    if (*row_max != INT32_MIN) {
        alpha = qattn_exp2_neg_q16(qattn_score_exponent(new_max - *row_max, p));
        *row_sum = rescale(*row_sum, alpha);
    }
    *row_max = new_max;
    return alpha;
}

void qattn_tile_rescale_acc(int64_t *acc, int32_t n, uint32_t alpha)
{
    for (int32_t t = 0; t < n; t++)
        acc[t] = rescale(acc[t], alpha);
}

static int32_t dot_s8(const int8_t *a, const int8_t *b, int32_t n)
{
    int32_t s = 0; /* [Q1] |s| <= 256 * 128 * 128 = 2^22 */
    for (int32_t t = 0; t < n; t++)
        s += (int32_t)a[t] * (int32_t)b[t];
    return s;
}

/* One query row against the first `keys` keys of a tile. */
static void absorb_row(int32_t *row_max, int64_t *row_sum, int64_t *acc,
                       const qattn_tile_params *p, const int8_t *q, const int8_t *k,
                       const int8_t *v, ptrdiff_t kv_stride, int32_t keys, int32_t *scores,
                       int32_t *partial)
{
    const int32_t d = p->head_dim;
    int32_t tile_max = INT32_MIN;
    for (int32_t j = 0; j < keys; j++) {
        scores[j] = dot_s8(q, k + j * kv_stride, d);
        if (scores[j] > tile_max)
            tile_max = scores[j];
    }

    uint32_t alpha = qattn_tile_raise_max(row_max, row_sum, tile_max, p);
    if (alpha != 65536)
        qattn_tile_rescale_acc(acc, d, alpha);

    /* [Q6] Per tile: sum of e < 64 * 2^16, |sum of e * v| < 64 * 65535 * 128 < 2^29. */
    int32_t sum = 0;
    for (int32_t t = 0; t < d; t++)
        partial[t] = 0;
    for (int32_t j = 0; j < keys; j++) {
        uint32_t e = qattn_exp2_neg_q16(qattn_score_exponent(*row_max - scores[j], p));
        if (e > QATTN_E_MAX)
            e = QATTN_E_MAX;
        if (e == 0)
            continue;
        sum += (int32_t)e;
        const int8_t *vj = v + j * kv_stride;
        for (int32_t t = 0; t < d; t++)
            partial[t] += (int32_t)e * vj[t];
    }
    *row_sum += sum;
    for (int32_t t = 0; t < d; t++)
        acc[t] += partial[t];
}

void qattn_tile_absorb(qattn_tile_state *st, const qattn_tile_params *p, const int8_t *q,
                       ptrdiff_t q_stride, const int8_t *k, const int8_t *v,
                       ptrdiff_t kv_stride, int32_t keys, int32_t causal_diag,
                       int32_t *scratch)
{
    int32_t *scores = scratch;
    int32_t *partial = scratch + QATTN_TILE_KEYS;
    for (int32_t r = 0; r < st->rows; r++) {
        int32_t allowed = keys;
        if (causal_diag != QATTN_NO_CAUSAL) {
            int64_t last = (int64_t)r + causal_diag; /* last allowed tile-local key */
            if (last < 0)
                continue;
            if (last + 1 < allowed)
                allowed = (int32_t)(last + 1);
        }
        absorb_row(&st->row_max[r], &st->row_sum[r], st->acc + (ptrdiff_t)r * st->head_dim,
                   p, q + r * q_stride, k, v, kv_stride, allowed, scores, partial);
    }
}

/*
 * [Q7] out = round(gain * A / L), gain = out_mult / 2^out_shift, with one reciprocal per
 * row, saturated to [-(limit + 1), limit]. A and L are first shifted right together until
 * both fit in 31 bits; then rcp = floor(out_mult * 2^b / L) with b = bit length of L lies in
 * [2^30, 2^32), and |A| * rcp < 2^63.
 */
static void finish_row(int64_t row_sum, const int64_t *acc, const qattn_tile_params *p,
                       int32_t limit, int32_t *out)
{
    const int32_t d = p->head_dim;
    if (row_sum <= 0) {
        for (int32_t t = 0; t < d; t++)
            out[t] = 0;
        return;
    }
    uint64_t amax = (uint64_t)row_sum;
    for (int32_t t = 0; t < d; t++) {
        uint64_t a = acc[t] < 0 ? (uint64_t)-acc[t] : (uint64_t)acc[t];
        if (a > amax)
            amax = a;
    }
    int norm = bit_length_u64(amax) - 31;
    if (norm < 0)
        norm = 0;
    uint64_t sum = (uint64_t)row_sum >> norm;
    if (sum == 0) { /* unreachable: the row maximum alone contributes 65535 to the sum */
        for (int32_t t = 0; t < d; t++)
            out[t] = 0;
        return;
    }
    int b = bit_length_u64(sum);
    uint64_t rcp = ((uint64_t)p->out_mult << b) / sum;
    int shift = p->out_shift + b;
    for (int32_t t = 0; t < d; t++) {
        uint64_t a = (acc[t] < 0 ? (uint64_t)-acc[t] : (uint64_t)acc[t]) >> norm;
        uint64_t mag = shift >= 64 ? 0 : (a * rcp + ((uint64_t)1 << (shift - 1))) >> shift;
        if (acc[t] < 0)
            out[t] = mag > (uint64_t)limit ? -limit - 1 : -(int32_t)mag;
        else
            out[t] = mag >= (uint64_t)limit ? limit : (int32_t)mag;
    }
}

/* The widest row finish_row writes (QATTN_MAX_HEAD_DIM of qattn.h). */
enum { FINISH_MAX_HEAD_DIM = 256 };

void qattn_tile_finish(const qattn_tile_state *st, const qattn_tile_params *p, int8_t *out,
                       ptrdiff_t out_stride)
{
    int32_t row[FINISH_MAX_HEAD_DIM];
    for (int32_t r = 0; r < st->rows; r++) {
        finish_row(st->row_sum[r], st->acc + (ptrdiff_t)r * st->head_dim, p, 127, row);
        for (int32_t t = 0; t < st->head_dim; t++)
            out[r * out_stride + t] = (int8_t)row[t];
    }
}

void qattn_tile_finish_s16(const qattn_tile_state *st, const qattn_tile_params *p,
                           int16_t *out, ptrdiff_t out_stride)
{
    int32_t row[FINISH_MAX_HEAD_DIM];
    for (int32_t r = 0; r < st->rows; r++) {
        finish_row(st->row_sum[r], st->acc + (ptrdiff_t)r * st->head_dim, p, 32767, row);
        for (int32_t t = 0; t < st->head_dim; t++)
            out[r * out_stride + t] = (int16_t)row[t];
    }
}

size_t qattn_tile_working_set_bytes(int32_t rows, int32_t head_dim)
{
    size_t r = (size_t)rows, d = (size_t)head_dim;
    size_t inputs = r * d + 2 * (size_t)QATTN_TILE_KEYS * d;       /* q, k, v tiles */
    size_t state = r * (sizeof(int32_t) + sizeof(int64_t)) + r * d * sizeof(int64_t);
    size_t scratch = ((size_t)QATTN_TILE_KEYS + d) * sizeof(int32_t);
    size_t output = r * d;
    size_t structs = sizeof(qattn_tile_state) + sizeof(qattn_tile_params);
    return inputs + state + scratch + output + structs;
}

int32_t qattn_tile_rows_for_head_dim(int32_t head_dim)
{
    int32_t rows = QATTN_TILE_ROWS;
    while (rows > 1 && qattn_tile_working_set_bytes(rows, head_dim) > 65536u)
        rows /= 2;
    return rows;
}
