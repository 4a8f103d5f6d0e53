/* Bad input: each gets its status code and a message, and the output is left untouched. */
#include <math.h>
#include <string.h>

#include "qattn.h"
#include "testing.h"

enum { H = 2, L = 8, D = 16 };
static int8_t q[H * L * D], k[H * L * D], v[H * L * D], out[H * L * D];
static float ones[H] = {0.02f, 0.02f};

static qattn_attention_desc good(void)
{
    qattn_attention_desc d = qattn_attention_desc_default();
    d.heads = H, d.len_q = L, d.len_k = L, d.head_dim = D;
    d.scale_q = d.scale_k = d.scale_v = d.scale_out = ones;
    return d;
}

static void expect(const char *what, qattn_attention_desc d, const int8_t *qq, int8_t *oo,
                   qattn_status want)
{
    memset(out, 0x5A, sizeof out);
    qattn_status got = qattn_attention_s8(&d, qq, k, v, oo);
    CHECK(got == want, "%s: status %d (%s), want %d", what, got, qattn_last_error(), want);
    CHECK(want == QATTN_OK || qattn_last_error()[0] != '\0', "%s: no message", what);
    if (want != QATTN_OK) {
        int untouched = 1;
        for (size_t i = 0; i < sizeof out; i++)
            untouched &= out[i] == 0x5A;
        CHECK(untouched, "%s: output written on failure", what);
        printf("%-28s -> %s\n", what, qattn_last_error());
    }
}

int main(void)
{
    qattn_attention_desc d = good();
    expect("valid call", d, q, out, QATTN_OK);
    CHECK(qattn_last_error()[0] == '\0', "success clears the message");

    CHECK(qattn_attention_s8(NULL, q, k, v, out) == QATTN_ERR_NULL, "NULL desc");
    expect("NULL q", d, NULL, out, QATTN_ERR_NULL);
    CHECK(qattn_attention_s8(&d, q, k, v, NULL) == QATTN_ERR_NULL, "NULL out");
    d.scale_v = NULL;
    expect("NULL scale array", d, q, out, QATTN_ERR_NULL);

    struct { const char *what; int field; int32_t value; qattn_status want; } sizes[] = {
        {"heads = 0", 0, 0, QATTN_ERR_SIZE},         {"heads < 0", 0, -3, QATTN_ERR_SIZE},
        {"heads too many", 0, QATTN_MAX_HEADS + 1, QATTN_ERR_SIZE},
        {"len_q = 0", 1, 0, QATTN_ERR_SIZE},         {"len_q < 0", 1, -1, QATTN_ERR_SIZE},
        {"len_k = 0", 2, 0, QATTN_ERR_SIZE},
        {"len_k past the bound", 2, QATTN_MAX_KEYS + 1, QATTN_ERR_TOO_MANY_KEYS},
        {"head_dim = 0", 3, 0, QATTN_ERR_HEAD_DIM},  {"head_dim = 8", 3, 8, QATTN_ERR_HEAD_DIM},
        {"head_dim = 72", 3, 72, QATTN_ERR_HEAD_DIM}, {"head_dim = 272", 3, 272, QATTN_ERR_HEAD_DIM},
        {"threads < 0", 4, -1, QATTN_ERR_ARG},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        d = good();
        int32_t *f[] = {&d.heads, &d.len_q, &d.len_k, &d.head_dim, &d.threads};
        *f[sizes[i].field] = sizes[i].value;
        expect(sizes[i].what, d, q, out, sizes[i].want);
    }

    const float bad_scales[] = {0.0f, -1.0f, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad_scales / sizeof *bad_scales; i++) {
        for (int which = 0; which < 4; which++) {
            float s[H] = {0.02f, bad_scales[i]};
            d = good();
            const float **f[] = {&d.scale_q, &d.scale_k, &d.scale_v, &d.scale_out};
            *f[which] = s;
            expect("bad scale", d, q, out, QATTN_ERR_SCALE);
        }
    }
    float tiny_out[H] = {1e-30f, 1e-30f};
    d = good();
    d.scale_out = tiny_out;
    expect("scale_v / scale_out > 2^24", d, q, out, QATTN_ERR_SCALE);

    int32_t kv_bad[][H] = {{8, 0}, {9, 8}, {-1, 8}};
    for (int i = 0; i < 3; i++) {
        d = good();
        d.kv_len = kv_bad[i];
        expect("kv_len out of range", d, q, out, QATTN_ERR_KV_LEN);
    }

    /* Quantization: bad scale, NULL, and the rounding rule (ties to even, saturation). */
    float x[] = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 126.5f, 127.5f, 300.0f, -128.5f, -1e9f, NAN,
                 INFINITY, -INFINITY, 0.49999997f};
    int8_t want[] = {0, 2, 2, 0, -2, 126, 127, 127, -128, -128, 0, 127, -128, 0};
    int8_t got[sizeof x / sizeof *x];
    CHECK(qattn_quantize_f32(x, sizeof x / sizeof *x, 1.0f, got) == QATTN_OK, "quantize");
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        CHECK(got[i] == want[i], "quantize(%g) = %d, want %d", (double)x[i], got[i], want[i]);
    CHECK(qattn_quantize_f32(x, 3, 0.0f, got) == QATTN_ERR_SCALE, "quantize scale 0");
    CHECK(qattn_quantize_f32(x, 3, NAN, got) == QATTN_ERR_SCALE, "quantize scale NaN");
    CHECK(qattn_quantize_f32(NULL, 3, 1.0f, got) == QATTN_ERR_NULL, "quantize NULL");
    CHECK(qattn_quantize_f32(NULL, 0, 1.0f, NULL) == QATTN_OK, "quantize of nothing");

    /* Float entry point: a NaN input is refused. */
    float fq[L * D] = {0}, fk[L * D] = {0}, fv[L * D] = {0}, fo[L * D];
    d = good();
    d.heads = 1;
    fk[5] = NAN;
    CHECK(qattn_attention_f32(&d, fq, fk, fv, fo) == QATTN_ERR_VALUE, "NaN in k");

    /* Arguments outside their domain: QATTN_ERR_ARG, checked before anything is allocated
     * (a negative n_mels once reached malloc and reported "out of memory"). */
    float audio[1600] = {0}, mel_out[80 * 10];
    for (int32_t n_mels = -1; n_mels <= 0; n_mels++) {
        CHECK(qattn_log_mel(audio, 1600, n_mels, 1, mel_out) == QATTN_ERR_ARG, "log_mel n_mels %d", n_mels);
        CHECK(strstr(qattn_last_error(), "n_mels") != NULL, "message names n_mels: %s", qattn_last_error());
    }
    CHECK(qattn_log_mel(audio, 1600, 513, 1, mel_out) == QATTN_ERR_ARG, "log_mel n_mels 513");
    CHECK(qattn_log_mel(audio, 1600, 80, -2, mel_out) == QATTN_ERR_ARG, "log_mel threads < 0");
    CHECK(qattn_mel_filters(0, mel_out) == QATTN_ERR_ARG, "mel_filters n_mels 0");
    CHECK(qattn_status_string(QATTN_ERR_ARG)[0] != 'u', "ERR_ARG has a description");

    /* A zero-initialised params struct means int8 (the default params say so too). */
    qattn_encoder_params zero;
    memset(&zero, 0, sizeof zero);
    CHECK(zero.precision == QATTN_PRECISION_INT8, "zero params give int8");
    CHECK(qattn_encoder_default_params().precision == QATTN_PRECISION_INT8, "default is int8");

    CHECK(strcmp(qattn_status_string(QATTN_ERR_SCALE), "invalid scale") == 0, "status string");
    CHECK(strcmp(qattn_version(), QATTN_VERSION_STRING) == 0, "version");
    return testing_report("test_errors");
}
