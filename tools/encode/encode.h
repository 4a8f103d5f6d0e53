/* `qattn encode`: mel .npy in, encoder output .npy out. */
#ifndef QATTN_TOOLS_ENCODE_H
#define QATTN_TOOLS_ENCODE_H

int encode_main(int argc, char **argv);

#endif
