/* fuzz.h - what the fuzz targets share. Each fuzz_*.c defines libFuzzer's
 * entry point, LLVMFuzzerTestOneInput, over one parser of opcost. Built two
 * ways (tests/CMakeLists.txt):
 *   - with clang and -DOPCOST_FUZZ=ON: real libFuzzer executables
 *     (`make fuzz`), the library instrumented for coverage;
 *   - always: linked with replay.c into a CTest suite (label fuzz) that runs
 *     every input of tests/fuzz/corpus/TARGET/ once, so the seeds and every
 *     crash found so far stay regression tests, under the sanitizers too.
 * A property that must hold for every input (a round trip, nothing written
 * after a rejected import) is checked with FUZZ_CHECK, which aborts so that
 * libFuzzer keeps the input. */
#ifndef OPCOST_TESTS_FUZZ_H
#define OPCOST_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                    \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "fuzz property failed: %s (%s:%d): ", #cond, __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                                              \
      fputc('\n', stderr);                                                       \
      abort();                                                                   \
    }                                                                            \
  } while (0)

/* The input as a NUL-terminated string (a NUL inside ends it early, as C
 * strings do); the caller frees it. */
static inline char *fuzz_text(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (text == NULL) abort();
  memcpy(text, data, size);
  text[size] = '\0';
  return text;
}

#endif
