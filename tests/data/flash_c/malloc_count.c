/* malloc_count.c - LD_PRELOAD shim for tests/test_flash_c.py: counts malloc/calloc/realloc
 * calls of a glibc program and writes the count to $EKFO_MALLOC_COUNT at exit, so a test
 * can show the token loop allocates nothing (same count for 2 and for 20 tokens). */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t s);
extern void *__libc_realloc(void *p, size_t n);

static unsigned long calls;

void *malloc(size_t n) { calls++; return __libc_malloc(n); }
void *calloc(size_t n, size_t s) { calls++; return __libc_calloc(n, s); }
void *realloc(void *p, size_t n) { calls++; return __libc_realloc(p, n); }

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("EKFO_MALLOC_COUNT");
    FILE *f = path ? fopen(path, "w") : NULL;
    unsigned long n = calls;    /* before fopen's own allocation */
    if (f) {
        fprintf(f, "%lu\n", n);
        fclose(f);
    }
}
