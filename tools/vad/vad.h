/* `qattn vad FILE`: the speech spans of an audio file (thin over qattn_vad_*). */
#ifndef QATTN_TOOLS_VAD_H
#define QATTN_TOOLS_VAD_H

int vad_main(int argc, char **argv);

#endif
