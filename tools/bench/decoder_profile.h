/* `qattn bench decoder --profile`: a decoding step's time by stage (decoder_profile.c). */
#ifndef QATTN_BENCH_DECODER_PROFILE_H
#define QATTN_BENCH_DECODER_PROFILE_H

#include <stdint.h>

#include "qattn.h"

/* Prints the table for one sequence and (beams > 1) for `beams` side by side; 0 if the model
 * does not load or a step fails. token_at(i): the i-th token to feed; features_for: a
 * stand-in encoder output of n_audio frames (malloc'd). */
int bench_decoder_profile(const char *model, qattn_isa isa, int threads, int repeats,
                          int tokens, int32_t beams, int32_t (*token_at)(int32_t),
                          float *(*features_for)(const qattn_decoder_info *, int32_t));

#endif
