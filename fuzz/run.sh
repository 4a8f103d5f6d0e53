#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan + coverage) and runs each for
# SECONDS seconds (default 60) from seeds the test writers make; any crash fails the run.
# A longer run: fuzz/run.sh 3600
set -eu
seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-fuzz"
CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    -DQATTN_FUZZ=ON -DQATTN_SANITIZE=address,undefined,fuzzer-no-link >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_safetensors fuzz_ggml fuzz_ct2 fuzz_config \
    fuzz_npy fuzz_audio fuzz_vocabulary fuzz_tokenizer fuzz_onnx fuzz_form >/dev/null
seeds="$build/seeds"
rm -rf "$seeds"
/usr/bin/python3 "$root/fuzz/make_seeds.py" "$seeds"
targets="fuzz_safetensors fuzz_ggml fuzz_ct2 fuzz_config fuzz_npy fuzz_audio fuzz_vocabulary
fuzz_tokenizer fuzz_onnx fuzz_form"
passed=0
for t in $targets; do
    corpus="$build/corpus/$t"
    mkdir -p "$corpus"
    # regression inputs (every crash found so far) run first, then the bounded search
    if [ -d "$root/fuzz/regressions/$t" ]; then
        "$build/fuzz/$t" "$root/fuzz/regressions/$t"/* >/dev/null 2>&1 || {
            echo "fuzz: $t fails on a regression input" >&2
            exit 1
        }
    fi
    "$build/fuzz/$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
        -artifact_prefix="$build/$t-" \
        -print_final_stats=1 "$corpus" "$seeds/$t" > "$build/$t.log" 2>&1 || {
        tail -40 "$build/$t.log" >&2
        echo "fuzz: $t found a crash (artifact in $build)" >&2
        exit 1
    }
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/$t.log" | grep -o '[0-9]*$')
    echo "fuzz: $t: $runs executions in ${seconds}s, no crash"
    passed=$((passed + 1))
done
echo "fuzz: $passed passed, 0 failed"
