/* Stack use of bare-metal ports by painting: ek_port_stack_paint() fills the free stack below
 * the caller's frame with a pattern, ek_port_stack_used() finds how deep it was overwritten.
 * Shared by every bare-metal port whose linker script defines __ek_stack_bottom. */
#include <stdint.h>
#include "ek_port.h"

extern uint32_t __ek_stack_bottom[];

#define STACK_PAINT 0xA5A5A5A5u
static uint32_t *stack_paint_top; /* painted words lie below this address */

/* Inlined into ek_port_stack_paint, so the sp it reads is that function's own. */
static inline __attribute__((always_inline)) uint32_t *current_sp(void)
{
    uint32_t *sp;
#if defined(__riscv)
    __asm__ volatile("mv %0, sp" : "=r"(sp));
#elif defined(__arm__)
    __asm__ volatile("mov %0, sp" : "=r"(sp));
#else
#error "baremetal_stack.c: add this architecture's stack-pointer read"
#endif
    return sp;
}

/* Paints the free stack below the caller's frame. noinline: the frame of this function
 * itself lies above the sp it reads, so it cannot paint over its own locals. */
__attribute__((noinline)) void ek_port_stack_paint(void)
{
    uint32_t *top = current_sp();
    for (volatile uint32_t *p = __ek_stack_bottom; p < top; p++)
        *p = STACK_PAINT;
    stack_paint_top = top;
}

/* Bytes below the painting point that were written since ek_port_stack_paint(). A value
 * equal to the whole painted size means the stack may have overflowed. */
int32_t ek_port_stack_used(void)
{
    if (!stack_paint_top)
        return -1;
    const uint32_t *p = __ek_stack_bottom;
    while (p < stack_paint_top && *p == STACK_PAINT)
        p++;
    return (int32_t)((uintptr_t)stack_paint_top - (uintptr_t)p);
}
