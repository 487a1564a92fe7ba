#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers (Fuzz/, libFuzzer): builds Fuzz/ with -sanitize=fuzzer
# and runs it for SECONDS (default 60) from the seed corpus in Fuzz/corpus. New inputs go to
# .build-fuzz/corpus and crashing inputs to .build-fuzz/crash-*, never into the repository.
# Linux with a swift.org toolchain (it ships libFuzzer); extra arguments go to libFuzzer, e.g.
#   scripts/fuzz-parsers.sh 0 -fork=2 -ignore_crashes=1     # unbounded, keep going past crashes
#   .build-fuzz/debug/ParserFuzzer .build-fuzz/crash-…       # replay one crash
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
swift build --package-path Fuzz -c debug -Xswiftc -sanitize=fuzzer --build-path .build-fuzz
mkdir -p .build-fuzz/corpus
exec .build-fuzz/debug/ParserFuzzer -max_total_time="$seconds" -seed=1 -artifact_prefix=.build-fuzz/ "$@" \
  .build-fuzz/corpus Fuzz/corpus
