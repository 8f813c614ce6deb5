/* ek_link.h - the framed board protocol (docs/board_protocol.md), firmware side.
 *
 * A frame on the wire is COBS(raw) followed by one 0x00 delimiter, where
 *   raw = version(1) type(1) seq(2, LE) payload(n) crc32(4, LE, over version..payload)
 * CRC-32 is IEEE 802.3 (zlib.crc32). Every integer is little-endian; floats are IEEE-754
 * binary32. The parser keeps at most `cap` encoded bytes: a longer frame is dropped up to
 * its delimiter and reported as EK_LINK_E_OVERSIZE, so no input can overrun a buffer.
 * Nothing here touches the port: the host builds this file with gcc/clang to fuzz it. */
#ifndef EK_LINK_H
#define EK_LINK_H
#include <stdint.h>

#define EK_LINK_VERSION 1u
#define EK_LINK_HEADER_BYTES 4u
#define EK_LINK_CRC_BYTES 4u
#define EK_LINK_OVERHEAD (EK_LINK_HEADER_BYTES + EK_LINK_CRC_BYTES)
/* COBS adds one byte per 254 plus one; the delimiter is not stored. */
#define EK_LINK_ENCODED_CAP(raw) ((raw) + (raw) / 254u + 2u)
/* seq of an ERROR answering a frame whose own seq could not be read (bad CRC, COBS...). */
#define EK_LINK_SEQ_NONE 0xFFFFu

/* Message types: requests from the host; a reply is the request's type | 0x80. */
enum {
    EK_MSG_HELLO = 0x01,
    EK_MSG_PING = 0x02,
    EK_MSG_INFER = 0x03,
    EK_MSG_BATCH = 0x04,
    EK_MSG_PROFILE = 0x05,
    EK_MSG_EXIT = 0x06,
    EK_MSG_REPLY = 0x80,
    EK_MSG_ERROR = 0x7F
};

/* ERROR codes (docs/board_protocol.md has their texts). */
enum {
    EK_ERR_OVERSIZE = 1,
    EK_ERR_COBS = 2,
    EK_ERR_SHORT = 3,
    EK_ERR_CRC = 4,
    EK_ERR_VERSION = 5,
    EK_ERR_UNKNOWN_TYPE = 6,
    EK_ERR_LENGTH = 7,
    EK_ERR_BATCH_TOO_BIG = 8
};

/* Parser results of ek_link_rx_byte. */
enum {
    EK_LINK_PENDING = 0, /* no complete frame yet */
    EK_LINK_OK = 1,      /* *frame holds a checked frame */
    EK_LINK_E_OVERSIZE = -1,
    EK_LINK_E_COBS = -2,
    EK_LINK_E_SHORT = -3,
    EK_LINK_E_CRC = -4,
    EK_LINK_E_VERSION = -5
};

typedef struct {
    uint8_t type;
    uint16_t seq;
    const uint8_t *payload; /* inside the parser's buffer: valid until the next byte is fed */
    uint32_t len;
} ek_link_frame_t;

typedef struct {
    uint8_t *buf;
    uint32_t cap; /* bytes of buf: the largest encoded frame accepted */
    uint32_t len;
    uint8_t overflow;
} ek_link_rx_t;

uint32_t ek_crc32(const uint8_t *p, uint32_t n);
/* Decodes COBS in place; returns the decoded length, or -1 for a malformed encoding. */
int32_t ek_cobs_decode(uint8_t *buf, uint32_t n);
void ek_link_rx_init(ek_link_rx_t *rx, uint8_t *buf, uint32_t cap);
/* Feeds one received byte. EK_LINK_E_VERSION still fills frame->type and ->seq. */
int ek_link_rx_byte(ek_link_rx_t *rx, uint8_t byte, ek_link_frame_t *frame);
/* Writes header and CRC around the payload already at raw[EK_LINK_HEADER_BYTES..];
 * returns the raw frame length. */
uint32_t ek_link_seal(uint8_t *raw, uint8_t type, uint16_t seq, uint32_t payload_len);
/* Streams COBS(raw) and the delimiter through put. */
void ek_link_write(const uint8_t *raw, uint32_t n, void (*put)(uint8_t));

static inline void ek_put_u16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void ek_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t ek_get_u16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static inline uint32_t ek_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

#endif
