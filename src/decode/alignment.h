/*
 * Token times from a decoder's cross-attention (openai whisper timing.py find_alignment,
 * median_filter, dtw_cpu and backtrace; CTranslate2 whisper.cc compute_alignments, as
 * faster-whisper's word timestamps call it): which encoder frame each text token starts at.
 */
#ifndef QATTN_DECODE_ALIGNMENT_H
#define QATTN_DECODE_ALIGNMENT_H

#include "qattn.h"

/*
 * scores: [heads][rows][frames] raw cross-attention scores (q.k / sqrt(head_dim)) of the
 * alignment heads, rows the tokens of the pass [start sequence, <|notimestamps|>, n_text text
 * tokens, <|endoftext|>], frames the first half of the window's content frames; overwritten.
 *   each (head, row): softmax over the frames;
 *   each (head, frame): standardized over the rows (mean 0, biased variance 1, no epsilon);
 *   each (head, row): median filter of median_width frames along the frames, the edges
 *     reflected (x[-k] = x[k]), none when there are no more than median_width / 2 frames;
 *   mean over the heads; rows first_row .. first_row + n_text (the rows predicting each text
 *   token and <|endoftext|>) aligned to the frames by dynamic time warping on the negated
 *   weights (ties step left, as dtw_cpu).
 * jump_frames[n_text + 1]: the path's first frame of each of those rows, in order (k = n_text
 * is <|endoftext|>'s); *n_jumps how many the path gave (n_text + 1 unless it is degenerate).
 */
qattn_status qattn_align_tokens(float *scores, int32_t heads, int32_t rows, int32_t frames,
                                int32_t first_row, int32_t n_text, int32_t median_width,
                                int32_t *jump_frames, int32_t *n_jumps);

#endif
