/* `qattn bench encoder`: one 30 s window through random-weight Whisper encoders. */
#ifndef QATTN_BENCH_ENCODER_H
#define QATTN_BENCH_ENCODER_H

int bench_encoder_main(int argc, char **argv);

#endif
