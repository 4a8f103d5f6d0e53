"""The rooms of src/ and their order (src/README.md): a file may include its own room's headers
and those of rooms before its own, never one after it; isa/ (the tiers' microkernels) may
include, of the kernel families, only their contracts; no folder holds more than 16 .c files. Run by ctest; prints every include
that climbs and exits 1 if there is one.

usage: python3 tests/layout/check_rooms.py [SRC_DIR]"""
import os
import re
import sys

ORDER = ["core", "ops", "gemm", "attn", "isa", "audio", "formats", "text", "whisper", "vad",
         "decode", "transcribe"]
# what a tier implements: the families' microkernel contracts and the arithmetic they must
# reproduce (isa/ sees nothing else of ops/, gemm/ and attn/)
ISA_MAY_INCLUDE = {"ops/float_ukernels.h", "ops/float_reference.h", "gemm/gemm_ukernels.h",
                   "attn/ukernels.h", "attn/tile_kernel.h"}
MAX_SOURCES = 16  # .c files a folder may hold: past it, it holds more than one job
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def room_of(path, src):
    rel = os.path.relpath(path, src)
    return rel.split(os.sep)[0] if os.sep in rel else None


def problems(src):
    out = []
    for top, _, files in os.walk(src):
        sources = [f for f in files if f.endswith(".c")]
        if len(sources) > MAX_SOURCES:
            out.append(f"{top}: {len(sources)} source files (at most {MAX_SOURCES}: split it by job)")
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(top, name)
            room = room_of(path, src)
            if room not in ORDER:
                out.append(f"{path}: in no room of the order ({', '.join(ORDER)})")
                continue
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for inc in INCLUDE.findall(text):
                target = inc.split("/")[0] if "/" in inc else room
                if inc == "qattn.h" or target == room:
                    continue
                if target not in ORDER:
                    out.append(f"{path}: includes {inc}, in no room")
                elif ORDER.index(target) > ORDER.index(room):
                    out.append(f"{path}: {room}/ includes {inc}, of {target}/, a later room")
                elif room == "isa" and target != "core" and inc not in ISA_MAY_INCLUDE:
                    out.append(f"{path}: isa/ includes {inc}, not a kernel contract")
    return out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "src")
    found = problems(src)
    for p in found:
        print(p)
    print(f"check_rooms: {len(found)} includes out of order" if found else "check_rooms: every include in order")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
