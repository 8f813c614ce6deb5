/* ek_protocol.h - the text protocol between a harness and edgekiln, the same on every
 * simulator and board (docs/cli.md "Harness protocol"). Floats travel as 8 hex digits of
 * their IEEE-754 bits, so nothing is lost to decimal printing.
 *
 *   host -> device:  "EKIN <n_samples> <n_features>\n" then n_samples*n_features hex words
 *   device -> host:  "EKREADY <n_features> <n_outputs> <task>\n"
 *                    "EKOUT <i> <label> <hex>...\n" per sample
 *                    "EKSTACK <bytes>\n" (-1 when the port cannot measure)
 *                    "EKDONE <n>\n" or "EKERR <message>\n"
 *
 * Protocol 2 (networks): tensors travel as their raw bytes, packed little-endian into 32-bit
 * words written as 8 hex digits (the last word zero-padded).
 *   host -> device:  "EKIN <n_samples> <words per input tensor> <flags>\n" then the words
 *                    (flags bit 0: trace every layer); or preloaded as ek_bulk_input_t with
 *                    n_features = words per sample and reserved = flags
 *   device -> host:  "EKNET 2 <input bytes> <output bytes> <layers> <per-layer markers 0|1>\n"
 *                    "EKTENSOR <i> <word>...\n" per sample (the output tensor)
 *                    "EKTRACE <i> <layer> <word>...\n" per layer when tracing
 *                    "EKSTACK <bytes>\n", "EKDONE <n>\n" or "EKERR <message>\n"
 */
#ifndef EK_PROTOCOL_H
#define EK_PROTOCOL_H
#include <stdint.h>

void ek_write_str(const char *s);
void ek_write_int(int32_t v);
void ek_write_hex32(uint32_t v);
/* Reads the next whitespace-separated token; returns its length, 0 at end of input. */
uint32_t ek_read_token(char *buf, uint32_t cap);
/* Parses a decimal or 8-hex-digit token; returns 0 on success. */
int ek_parse_int(const char *s, int32_t *out);
int ek_parse_hex32(const char *s, uint32_t *out);
float ek_float_from_bits(uint32_t bits);
/* Protocol 2: n bytes as little-endian 32-bit hex words, and words back into bytes. */
void ek_write_bytes_hex(const uint8_t *bytes, uint32_t n);
void ek_unpack_words(const uint32_t *words, uint8_t *bytes, uint32_t n);
uint32_t ek_float_to_bits(float f);

#endif
