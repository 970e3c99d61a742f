#ifndef SLUICE_LIBFUZZER_H
#define SLUICE_LIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry point for programs that keep their own main: parses libFuzzer's options from
/// argv and runs `callback` on each input. Defined by the fuzzer runtime that -sanitize=fuzzer links.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
