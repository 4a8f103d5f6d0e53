/* `qattn check`: the accuracy harness. */
#ifndef QATTN_CHECK_CHECK_H
#define QATTN_CHECK_CHECK_H

/* Runs every case; prints a table (or JSON with --json). Returns the process exit status:
 * 0 only when every case meets its target. */
int check_main(int argc, char **argv);

#endif
