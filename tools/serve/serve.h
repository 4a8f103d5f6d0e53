#ifndef QATTN_TOOLS_SERVE_SERVE_H
#define QATTN_TOOLS_SERVE_SERVE_H
int serve_main(int argc, char **argv);
#endif
