/* Fuzz target for the firmware's frame parser (runtime_c/protocol/ek_link.c), built for the
 * host: with clang -fsanitize=fuzzer (libFuzzer) or with ek_link_fuzz_main.c (gcc).
 * The receive buffer is a heap block of exactly its capacity, so ASan catches any write past
 * it. Checks on every accepted frame: it lies inside the buffer, and sealing + encoding it
 * again and feeding that back yields the same frame (what the parser accepts it also emits). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ek_link.h"

#define CAP 96u

static uint8_t wire[EK_LINK_ENCODED_CAP(CAP + 8u) + 1u];
static uint32_t wire_len;

static void put(uint8_t b)
{
    if (wire_len < sizeof wire) wire[wire_len++] = b;
}

static void check_roundtrip(const ek_link_frame_t *fr)
{
    uint8_t raw[EK_LINK_OVERHEAD + CAP];
    if (fr->len + EK_LINK_OVERHEAD > sizeof raw) abort();
    memcpy(raw + EK_LINK_HEADER_BYTES, fr->payload, fr->len);
    const uint32_t n = ek_link_seal(raw, fr->type, fr->seq, fr->len);
    wire_len = 0;
    ek_link_write(raw, n, put);
    uint8_t *buf = malloc(CAP);
    ek_link_rx_t rx;
    ek_link_rx_init(&rx, buf, CAP);
    ek_link_frame_t again;
    int st = EK_LINK_PENDING;
    for (uint32_t i = 0; i < wire_len; i++) st = ek_link_rx_byte(&rx, wire[i], &again);
    /* An encoded frame can exceed CAP (COBS overhead); otherwise it must come back intact. */
    if (wire_len - 1u <= CAP) {
        if (st != EK_LINK_OK || again.type != fr->type || again.seq != fr->seq || again.len != fr->len ||
            memcmp(again.payload, raw + EK_LINK_HEADER_BYTES, fr->len) != 0)
            abort();
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(CAP);
    ek_link_rx_t rx;
    ek_link_rx_init(&rx, buf, CAP);
    for (size_t i = 0; i < size; i++) {
        ek_link_frame_t fr;
        const int st = ek_link_rx_byte(&rx, data[i], &fr);
        if (st == EK_LINK_OK) {
            if (fr.payload < buf || fr.payload + fr.len > buf + CAP) abort();
            check_roundtrip(&fr);
        } else if (st < EK_LINK_E_VERSION || st > EK_LINK_OK) {
            abort();
        }
        if (rx.len > CAP) abort();
    }
    free(buf);
    return 0;
}
