#ifndef QATTN_TOOLS_TRANSCRIBE_H
#define QATTN_TOOLS_TRANSCRIBE_H
int transcribe_main(int argc, char **argv);
#endif
