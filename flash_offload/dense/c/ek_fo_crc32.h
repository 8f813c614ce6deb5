/* ek_fo_crc32.h - CRC-32 (IEEE 802.3, reflected 0xEDB88320), the same as zlib.crc32. */
#ifndef EK_FO_CRC32_H
#define EK_FO_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc over n bytes (start with 0), as zlib.crc32(data, crc) does. */
uint32_t ek_fo_crc32(uint32_t crc, const void *data, size_t n);

#endif
