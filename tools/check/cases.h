/* The accuracy cases of `qattn check`: protocols, shapes, stress transforms, targets. */
#ifndef QATTN_CHECK_CASES_H
#define QATTN_CHECK_CASES_H

#include <stdint.h>

#include "check/stats.h"

typedef enum check_protocol {
    PROTOCOL_SEED,    /* truncating quantization of inputs and reference (the seed's test) */
    PROTOCOL_ROUNDING /* round to nearest (ties to even) everywhere */
} check_protocol;

typedef enum check_target {
    TARGET_SEED,     /* corr >= 0.999, MAE <= 1.0, within5 >= 99.5%, range within 6 */
    TARGET_ROUNDING, /* MAE <= 1.05 x floor, corr >= 0.9995, within1 >= 99%, max <= 3 */
    TARGET_STRESS    /* MAE <= 1.05 x floor + 0.01, max <= floor max + 1, no wrong saturation */
} check_target;

typedef struct check_case {
    const char *name;
    check_protocol protocol;
    check_target target;
    int heads, len_q, len_k, head_dim;
    double q_gain;    /* Q is multiplied by this before quantization: > 1 peaks the softmax */
    int v_outliers;   /* this many V channels are scaled 20x */
    double qk_offset; /* added to every element of Q and K */
    int causal;
    int kv_len;       /* valid keys; 0 = len_k */
    uint32_t seed;    /* np.random.seed */
} check_case;

extern const check_case check_cases[];
extern const int check_case_count;

typedef struct check_result {
    check_stats kernel; /* kernel output against the quantized float64 reference */
    check_stats floor;  /* exact softmax on the same int8 inputs, rounded, against the same */
    long wrong_saturations; /* kernel outputs at -128/127 whose floor is more than 1 away */
    int pass;
    char why[160];      /* the first target missed, if any */
} check_result;

/* Runs one case. Returns 0 (with res->why set) if it could not run at all. */
int check_run_case(const check_case *c, check_result *res);

#endif
