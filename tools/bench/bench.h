/* `qattn bench`: speed of the attention tiers against a float32 OpenBLAS baseline. */
#ifndef QATTN_BENCH_BENCH_H
#define QATTN_BENCH_BENCH_H

/* Returns the process exit status (0 unless the arguments are wrong or memory runs out). */
int bench_main(int argc, char **argv);

#endif
