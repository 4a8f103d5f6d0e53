#!/bin/sh
# The tile kernel must build as its own freestanding translation unit: no libc, no
# builtins, and (with -mgeneral-regs-only on x86) no floating point; and the object must
# reference no external symbol.
# usage: freestanding.sh CC SOURCE WORKDIR
set -eu
cc=$1 src=$2 work=$3
obj="$work/tile_kernel_freestanding.o"
flags="-std=c11 -ffreestanding -nostdlib -fno-builtin -Wall -Wextra -Werror -O2"
case "$(uname -m)" in x86_64|i?86) flags="$flags -mgeneral-regs-only" ;; esac
$cc $flags -c "$src" -o "$obj"
undefined=$(nm -u "$obj")
if [ -n "$undefined" ]; then
    echo "freestanding: $src references external symbols:" >&2
    echo "$undefined" >&2
    exit 1
fi
echo "freestanding: $src builds with '$flags' and references no external symbol"
