/* ek_markers.c - see ek_markers.h. noinline + a memory barrier keep each marker a real
 * function that is really called (not inlined, not merged, not moved across the
 * inference), so a translation block starts at each entry address. noipa also stops GCC
 * from treating the empty bodies as identical and folding the two into one symbol. */
#include "ek_markers.h"

__attribute__((noinline, noipa)) void ek_mark_begin(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline, noipa)) void ek_mark_end(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline, noipa)) void ek_mark_wait_begin(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline, noipa)) void ek_mark_wait_end(void)
{
    __asm__ volatile("" ::: "memory");
}
