/* stm32_port.c (cortex-m4 STM32 variants) - the port seam on ST Nucleo / Discovery boards,
 * register level, no HAL (docs/boards.md):
 *   EK_STM32_F4 (STM32F446RE Nucleo-64, STM32F407VG Discovery): USART2 on PA2 (TX) / PA3
 *     (RX), AF7, the ST-LINK virtual COM port of the Nucleo-64. Clock: the reset clock, HSI
 *     16 MHz, APB1 undivided (no PLL set up), so BRR = 16 MHz / 115200 = 139 (-0.08 %).
 *   EK_STM32_L4 (STM32L4R5ZI Nucleo-144): LPUART1 on PG7 (TX) / PG8 (RX), AF8, the ST-LINK
 *     virtual COM port. Port G's upper pins are powered by VDDIO2, which must be declared
 *     valid (PWR_CR2.IOSV) first. Core on the reset clock (MSI 4 MHz); LPUART1 clocked from
 *     HSI16 (turned on here), BRR = 256 x 16 MHz / 115200 = 35556.
 * Receiving is interrupt driven into a ring of RX_RING bytes, so bytes that arrive while an
 * inference runs are kept (a UART holds one). Cycles: DWT CYCCNT (real on silicon; QEMU
 * does not model the DWT). Exit: there is nothing to exit to, so the core sleeps. */
#include <stdint.h>

#include "ek_port.h"

#define REG(addr) (*(volatile uint32_t *)(addr))

#if defined(EK_STM32_F4)
#define RCC_AHB1ENR REG(0x40023830u)
#define RCC_APB1ENR REG(0x40023840u)
#define GPIOA_MODER REG(0x40020000u)
#define GPIOA_AFRL REG(0x40020020u)
#define USART_BASE 0x40004400u          /* USART2 */
#define USART_SR REG(USART_BASE + 0x00u)
#define USART_DR REG(USART_BASE + 0x04u)
#define USART_BRR REG(USART_BASE + 0x08u)
#define USART_CR1 REG(USART_BASE + 0x0Cu)
#define SR_RXNE (1u << 5)
#define SR_TC (1u << 6)
#define SR_TXE (1u << 7)
#define CR1_FLAGS ((1u << 13) | (1u << 5) | (1u << 3) | (1u << 2)) /* UE, RXNEIE, TE, RE */
#define BRR_115200 139u
#define RX_STATUS USART_SR
#define RX_DATA USART_DR
#define TX_DATA USART_DR
#ifndef EK_CPU_HZ
#define EK_CPU_HZ 16000000u
#endif
#elif defined(EK_STM32_L4)
#define RCC_CR REG(0x40021000u)
#define RCC_AHB2ENR REG(0x4002104Cu)
#define RCC_APB1ENR1 REG(0x40021058u)
#define RCC_APB1ENR2 REG(0x4002105Cu)
#define RCC_CCIPR REG(0x40021088u)
#define PWR_CR2 REG(0x40007004u)
#define GPIOG_MODER REG(0x48001800u)
#define GPIOG_AFRL REG(0x48001820u)
#define GPIOG_AFRH REG(0x48001824u)
#define LPUART_BASE 0x40008000u         /* LPUART1 */
#define LPUART_CR1 REG(LPUART_BASE + 0x00u)
#define LPUART_BRR REG(LPUART_BASE + 0x0Cu)
#define LPUART_ISR REG(LPUART_BASE + 0x1Cu)
#define LPUART_ICR REG(LPUART_BASE + 0x20u)
#define LPUART_RDR REG(LPUART_BASE + 0x24u)
#define LPUART_TDR REG(LPUART_BASE + 0x28u)
#define SR_RXNE (1u << 5)
#define SR_TC (1u << 6)
#define SR_TXE (1u << 7)
#define ISR_ORE (1u << 3)
#define CR1_FLAGS ((1u << 5) | (1u << 3) | (1u << 2) | (1u << 0)) /* RXNEIE, TE, RE, UE */
#define BRR_115200 35556u
#define RX_STATUS LPUART_ISR
#define RX_DATA LPUART_RDR
#define TX_DATA LPUART_TDR
#ifndef EK_CPU_HZ
#define EK_CPU_HZ 4000000u
#endif
#else
#error "stm32_port.c: the variant's cflags define EK_STM32_F4 or EK_STM32_L4"
#endif

/* Cortex-M4 system registers. */
#define DEMCR REG(0xE000EDFCu)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL REG(0xE0001000u)
#define DWT_CYCCNT REG(0xE0001004u)
#define NVIC_ISER(n) REG(0xE000E100u + 4u * (n))

#define RX_RING 1024u                   /* a power of two */
static volatile uint8_t rx_ring[RX_RING];
static volatile uint32_t rx_head, rx_tail; /* head: written by the interrupt */
#if defined(EK_STM32_F4)
#define UART_CR1 USART_CR1
#else
#define UART_CR1 LPUART_CR1
#endif
#define CR1_RXNEIE (1u << 5)

void ek_stm32_uart_irq(void);

/* Moves received bytes into the ring. With the ring full it stops taking them (receive
 * interrupt off, the byte left in the UART) until ek_port_getc makes room: the sender is
 * held back where the UART has flow control (an emulator), and on silicon the next bytes
 * overrun in hardware, which the protocol's CRC and retries recover from. */
void ek_stm32_uart_irq(void)
{
    while (RX_STATUS & SR_RXNE) {
        if (rx_head - rx_tail >= RX_RING) {
            UART_CR1 &= ~CR1_RXNEIE;
            break;
        }
        rx_ring[rx_head % RX_RING] = (uint8_t)RX_DATA; /* reading DR clears RXNE (and ORE on F4) */
        rx_head++;
    }
#if defined(EK_STM32_L4)
    LPUART_ICR = ISR_ORE;               /* an overrun flag alone would keep the interrupt pending */
#endif
}

void ek_port_setup(void)
{
#if defined(EK_STM32_F4)
    RCC_AHB1ENR |= 1u << 0;             /* GPIOA */
    RCC_APB1ENR |= 1u << 17;            /* USART2 */
    (void)RCC_APB1ENR;                  /* read back: the clock is on before the first access */
    GPIOA_MODER = (GPIOA_MODER & ~(0xFu << 4)) | (0xAu << 4);      /* PA2, PA3: alternate */
    GPIOA_AFRL = (GPIOA_AFRL & ~(0xFFu << 8)) | (0x77u << 8);      /* AF7 = USART2 */
    USART_BRR = BRR_115200;
    USART_CR1 = CR1_FLAGS;
#else
    RCC_APB1ENR1 |= 1u << 28;           /* PWR */
    (void)RCC_APB1ENR1;
    PWR_CR2 |= 1u << 9;                 /* IOSV: VDDIO2 valid, port G usable */
    RCC_CR |= 1u << 8;                  /* HSI16 on ... */
    while (!(RCC_CR & (1u << 10)))      /* ... and ready */
        ;
    RCC_CCIPR = (RCC_CCIPR & ~(3u << 10)) | (2u << 10);           /* LPUART1SEL = HSI16 */
    RCC_AHB2ENR |= 1u << 6;             /* GPIOG */
    RCC_APB1ENR2 |= 1u << 0;            /* LPUART1 */
    (void)RCC_APB1ENR2;
    GPIOG_MODER = (GPIOG_MODER & ~(0xFu << 14)) | (0xAu << 14);    /* PG7, PG8: alternate */
    GPIOG_AFRL = (GPIOG_AFRL & ~(0xFu << 28)) | (0x8u << 28);      /* PG7 AF8 */
    GPIOG_AFRH = (GPIOG_AFRH & ~0xFu) | 0x8u;                      /* PG8 AF8 */
    LPUART_BRR = BRR_115200;
    LPUART_CR1 = CR1_FLAGS;
#endif
    DEMCR |= DEMCR_TRCENA;              /* DWT on, cycle counter from 0 */
    DWT_CYCCNT = 0u;
    DWT_CTRL |= 1u;
    NVIC_ISER(EK_STM32_UART_IRQ / 32u) = 1u << (EK_STM32_UART_IRQ % 32u);
    __asm__ volatile("cpsie i" ::: "memory");
}

void ek_port_putc(char c)
{
    while (!(RX_STATUS & SR_TXE))
        ;
    TX_DATA = (uint8_t)c;
}

void ek_port_flush(void)
{
    while (!(RX_STATUS & SR_TC))
        ;
}

int ek_port_rx_ready(void)
{
    return rx_head != rx_tail;
}

int ek_port_getc(void)
{
    while (rx_head == rx_tail)
        __asm__ volatile("wfi");        /* the receive interrupt wakes the core */
    const uint8_t b = rx_ring[rx_tail % RX_RING];
    rx_tail++;
    if (!(UART_CR1 & CR1_RXNEIE))
        UART_CR1 |= CR1_RXNEIE;         /* room again: take bytes (read-modify-write with the IRQ off) */
    return b;
}

uint32_t ek_port_cycles(void)
{
    return DWT_CYCCNT;
}

/* Cycles since setup / the core clock (EK_CPU_HZ: the reset clock unless a variant sets
 * up a PLL), extended past CYCCNT's wrap (read at least every 2^32 cycles). */
uint32_t ek_port_micros(void)
{
    static uint32_t last;
    static uint64_t total;
    const uint32_t now = DWT_CYCCNT;
    total += (uint32_t)(now - last);
    last = now;
    return (uint32_t)(total / (EK_CPU_HZ / 1000000u));
}

void ek_port_exit(int code)
{
    (void)code;
    ek_port_flush();
    __asm__ volatile("cpsid i" ::: "memory");
    for (;;)
        __asm__ volatile("wfi");
}

/* Samples come over the UART; no preloaded area. */
const ek_bulk_input_t *ek_port_bulk_input(void)
{
    return 0;
}
