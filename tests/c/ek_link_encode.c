/* Reads type (1 byte), seq (2 bytes, LE) then the payload bytes on stdin; writes the frame the firmware would
 * send (tests compare it with the Python encoder). */
#include <stdio.h>
#include <stdlib.h>
#include "ek_link.h"

static void put(uint8_t b)
{
    putchar(b);
}

int main(void)
{
    static uint8_t raw[8192];
    uint8_t head[3];
    uint32_t n = 0;
    int c;
    if (fread(head, 1, sizeof head, stdin) != sizeof head) return 1;
    const uint8_t type = head[0];
    const uint16_t seq = (uint16_t)(head[1] | (head[2] << 8));
    while ((c = getchar()) != EOF && n + EK_LINK_OVERHEAD < sizeof raw) raw[EK_LINK_HEADER_BYTES + n++] = (uint8_t)c;
    ek_link_write(raw, ek_link_seal(raw, type, seq, n), put);
    return 0;
}
