/* `qattn bench decoder`: the Whisper decoder's token loop, ms per token and weight bandwidth. */
#ifndef QATTN_BENCH_DECODER_H
#define QATTN_BENCH_DECODER_H

int bench_decoder_main(int argc, char **argv);

#endif
