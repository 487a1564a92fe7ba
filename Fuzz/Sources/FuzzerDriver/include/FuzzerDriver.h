#ifndef FUZZER_DRIVER_H
#define FUZZER_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (compiler-rt, `-sanitize=fuzzer`): parses the libFuzzer flags in argv and
/// runs `callback` on generated inputs. Declared here so a Swift `main` can call it; see
/// ParserFuzzer/main.swift for why the target keeps its own `main`.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

/// Runs the driver on the process's own arguments.
int FuzzerDriverRun(int argc, char **argv, int (*callback)(const uint8_t *data, size_t size));

#endif
