/* Harness protocol I/O on top of the port's byte functions (no libc stdio needed). */
#include <string.h>
#include "ek_port.h"
#include "ek_protocol.h"

void ek_write_str(const char *s)
{
    while (*s != '\0') ek_port_putc(*s++);
}

void ek_write_int(int32_t v)
{
    char buf[12];
    uint32_t n = 0;
    uint32_t u = v < 0 ? (uint32_t)(-(v + 1)) + 1u : (uint32_t)v;
    do {
        buf[n++] = (char)('0' + (u % 10u));
        u /= 10u;
    } while (u != 0u);
    if (v < 0) ek_port_putc('-');
    while (n > 0u) ek_port_putc(buf[--n]);
}

void ek_write_hex32(uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int shift = 28; shift >= 0; shift -= 4) ek_port_putc(digits[(v >> shift) & 0xFu]);
}

uint32_t ek_read_token(char *buf, uint32_t cap)
{
    int c;
    do {
        c = ek_port_getc();
        if (c < 0) return 0;
    } while (c == ' ' || c == '\n' || c == '\r' || c == '\t');
    uint32_t n = 0;
    while (c >= 0 && c != ' ' && c != '\n' && c != '\r' && c != '\t') {
        if (n + 1u < cap) buf[n++] = (char)c;
        c = ek_port_getc();
    }
    buf[n] = '\0';
    return n;
}

int ek_parse_int(const char *s, int32_t *out)
{
    int32_t v = 0;
    if (*s == '\0') return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (int32_t)(*s - '0');
    }
    *out = v;
    return 0;
}

int ek_parse_hex32(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    uint32_t n = 0;
    for (; *s != '\0'; s++, n++) {
        uint32_t d;
        if (*s >= '0' && *s <= '9') d = (uint32_t)(*s - '0');
        else if (*s >= 'a' && *s <= 'f') d = (uint32_t)(*s - 'a' + 10);
        else if (*s >= 'A' && *s <= 'F') d = (uint32_t)(*s - 'A' + 10);
        else return -1;
        v = (v << 4) | d;
    }
    if (n != 8u) return -1;
    *out = v;
    return 0;
}

float ek_float_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint32_t ek_float_to_bits(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

void ek_write_bytes_hex(const uint8_t *bytes, uint32_t n)
{
    for (uint32_t i = 0; i < n; i += 4u) {
        uint32_t w = 0;
        for (uint32_t k = 0; k < 4u && i + k < n; k++) w |= (uint32_t)bytes[i + k] << (8u * k);
        if (i != 0u) ek_port_putc(' ');
        ek_write_hex32(w);
    }
}

void ek_unpack_words(const uint32_t *words, uint8_t *bytes, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) bytes[i] = (uint8_t)(words[i / 4u] >> (8u * (i % 4u)));
}
