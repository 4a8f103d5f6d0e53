/* Random-weight encoders of any shape, for the benchmark and the C tests (not part of the
 * shipped library). */
#ifndef QATTN_TOOLS_RANDOM_ENCODER_H
#define QATTN_TOOLS_RANDOM_ENCODER_H

#include <stdint.h>

#include "whisper/model.h"

/* An encoder of the given shape with random weights (projections std 0.02, LayerNorm gains
 * near 1), built in memory in the params' precision. */
qattn_status qattn_encoder_random(const whisper_config *cfg, const qattn_encoder_params *params,
                                  uint64_t seed, struct qattn_encoder **out);

#endif
