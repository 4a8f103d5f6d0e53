#!/bin/sh
# Every symbol the libraries define for others to link against is named qattn_*: the shared
# library exports exactly the QATTN_API functions of qattn.h (nm -D), and the static archive's
# global symbols carry the prefix too, so a program that also links whisper.cpp or ggml (or
# anything else) meets no clash. Usage: exported_symbols.sh libqattn.so libqattn.a include/qattn.h
set -eu
so=$1 archive=$2 header=$3
fail=0
exported=$(nm -D --defined-only "$so" | awk 'NF == 3 { print $3 }' | sort -u)
[ -n "$exported" ] || { echo "no exported symbols in $so"; exit 1; }
bad=$(printf '%s\n' "$exported" | grep -v '^qattn_' || true)
if [ -n "$bad" ]; then
    echo "$so exports names outside qattn_:"; printf '  %s\n' $bad; fail=1
fi
# exactly the API: every QATTN_API declaration is exported, nothing else is
declared=$(sed -n 's/^QATTN_API [^(]*[ *]\(qattn_[a-z0-9_]*\)(.*/\1/p' "$header" | sort -u)
extra=$(printf '%s\n' "$exported" | grep -vxF "$declared" || true)
missing=$(printf '%s\n' "$declared" | grep -vxF "$exported" || true)
if [ -n "$extra" ]; then echo "$so exports internal functions:"; printf '  %s\n' $extra; fail=1; fi
if [ -n "$missing" ]; then echo "$so lacks public functions:"; printf '  %s\n' $missing; fail=1; fi
# (a sanitizer build adds its own instrumentation globals, __odr_asan.* and the like)
bad=$(nm -g --defined-only "$archive" | awk 'NF == 3 { print $3 }' | grep -v '^qattn_' |
      grep -Ev '^__(odr_asan|asan|ubsan|tsan|sanitizer)' | sort -u || true)
if [ -n "$bad" ]; then
    echo "$archive defines global names outside qattn_:"; printf '  %s\n' $bad; fail=1
fi
[ $fail -eq 0 ] && echo "exported symbols: $(printf '%s\n' "$exported" | wc -l) qattn_ functions, the API of qattn.h"
exit $fail
