/* ek_link.c - COBS framing, CRC-32 and the bounded frame parser (see ek_link.h). */
#include "ek_link.h"
#include "ek_port.h"

/* Ports that cannot tell whether a byte waits (ek_port.h) keep this default. */
__attribute__((weak)) int ek_port_rx_ready(void)
{
    return 0;
}

/* CRC-32 (IEEE, reflected, poly 0xEDB88320), a nibble at a time: a 64-byte table instead of
 * 1 KiB, about 2 table steps per byte. */
uint32_t ek_crc32(const uint8_t *p, uint32_t n)
{
    static const uint32_t table[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
        0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};
    uint32_t crc = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ table[crc & 0xFu];
        crc = (crc >> 4) ^ table[crc & 0xFu];
    }
    return crc ^ 0xFFFFFFFFu;
}

int32_t ek_cobs_decode(uint8_t *buf, uint32_t n)
{
    uint32_t r = 0, w = 0;
    while (r < n) {
        const uint32_t code = buf[r++];
        if (code == 0u || code - 1u > n - r) return -1;
        for (uint32_t k = 1; k < code; k++) buf[w++] = buf[r++]; /* w < r: in place is safe */
        if (code != 0xFFu && r < n) buf[w++] = 0u;
    }
    return (int32_t)w;
}

void ek_link_rx_init(ek_link_rx_t *rx, uint8_t *buf, uint32_t cap)
{
    rx->buf = buf;
    rx->cap = cap;
    rx->len = 0;
    rx->overflow = 0;
}

int ek_link_rx_byte(ek_link_rx_t *rx, uint8_t byte, ek_link_frame_t *frame)
{
    if (byte != 0u) {
        if (rx->len < rx->cap) rx->buf[rx->len++] = byte;
        else rx->overflow = 1u;
        return EK_LINK_PENDING;
    }
    const uint32_t n = rx->len;
    const uint8_t overflow = rx->overflow;
    rx->len = 0;
    rx->overflow = 0;
    if (overflow) return EK_LINK_E_OVERSIZE;
    if (n == 0u) return EK_LINK_PENDING; /* back-to-back delimiters: idle line */
    const int32_t m = ek_cobs_decode(rx->buf, n);
    if (m < 0) return EK_LINK_E_COBS;
    const uint32_t len = (uint32_t)m;
    if (len < EK_LINK_OVERHEAD) return EK_LINK_E_SHORT;
    if (ek_crc32(rx->buf, len - EK_LINK_CRC_BYTES) != ek_get_u32(rx->buf + len - EK_LINK_CRC_BYTES))
        return EK_LINK_E_CRC;
    frame->type = rx->buf[1];
    frame->seq = (uint16_t)ek_get_u16(rx->buf + 2);
    frame->payload = rx->buf + EK_LINK_HEADER_BYTES;
    frame->len = len - EK_LINK_OVERHEAD;
    if (rx->buf[0] != EK_LINK_VERSION) return EK_LINK_E_VERSION;
    return EK_LINK_OK;
}

uint32_t ek_link_seal(uint8_t *raw, uint8_t type, uint16_t seq, uint32_t payload_len)
{
    raw[0] = (uint8_t)EK_LINK_VERSION;
    raw[1] = type;
    ek_put_u16(raw + 2, seq);
    const uint32_t body = EK_LINK_HEADER_BYTES + payload_len;
    ek_put_u32(raw + body, ek_crc32(raw, body));
    return body + EK_LINK_CRC_BYTES;
}

void ek_link_write(const uint8_t *raw, uint32_t n, void (*put)(uint8_t))
{
    uint32_t start = 0;
    for (;;) {
        /* A block: up to 254 non-zero bytes, ended by a zero (implied) or the length cap. */
        uint32_t end = start;
        while (end < n && raw[end] != 0u && end - start < 254u) end++;
        put((uint8_t)(end - start + 1u));
        for (uint32_t i = start; i < end; i++) put(raw[i]);
        if (end >= n) {
            break;
        }
        if (raw[end] == 0u) {
            start = end + 1u;
            if (start == n) { /* a trailing zero is one more (empty) block */
                put(1u);
                break;
            }
        } else {
            start = end;      /* a full 254-byte block: no zero consumed */
        }
    }
    put(0u);
}
