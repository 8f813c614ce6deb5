/* ek_fo_crc32.c - table-driven CRC-32; the 1 KiB static table is filled on first use. */
#include "ek_fo_crc32.h"

static uint32_t table[256];
static int table_ready;

static void init_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    table_ready = 1;
}

uint32_t ek_fo_crc32(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
    if (!table_ready)
        init_table();
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}
