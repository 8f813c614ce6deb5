/* ek_protocol.h - the text protocol between a harness and edgekiln, the same on every
 * simulator and board (docs/cli.md "Harness protocol"). Floats travel as 8 hex digits of
 * their IEEE-754 bits, so nothing is lost to decimal printing.
 *
 *   host -> device:  "EKIN <n_samples> <n_features>\n" then n_samples*n_features hex words
 *   device -> host:  "EKREADY <n_features> <n_outputs> <task>\n"
 *                    "EKOUT <i> <label> <hex>...\n" per sample
 *                    "EKSTACK <bytes>\n" (-1 when the port cannot measure)
 *                    "EKDONE <n>\n" or "EKERR <message>\n"
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
uint32_t ek_float_to_bits(float f);

#endif
