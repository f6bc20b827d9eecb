/* The fuzz targets' invariant check: a broken one aborts, which libFuzzer reports as a crash. */
#ifndef TWIST_TESTS_FUZZ_CHECK_H
#define TWIST_TESTS_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(x)                                                                              \
	do {                                                                                  \
		if (!(x)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
			abort();                                                              \
		}                                                                             \
	} while (0)

#endif
