/* ek_energyrunner.h - the EEMBC EnergyRunner / MLPerf Tiny text protocol, firmware side
 * (docs/board_protocol.md, "EnergyRunner mode"); written from the protocol's published
 * grammar, not from its reference firmware.
 *
 * Commands are ASCII words separated by spaces and ended by '%' (no newline needed):
 *   name%                 m-name-dut-[VENDOR]
 *   profile%              m-profile-[FW], m-model-[MODEL], m-edgekiln-[key=value,...]
 *   timestamp%            m-lap-us-N
 *   db load N%            m-[Expecting N bytes]           (N <= the input buffer)
 *   db HHHH..%            hex bytes appended; m-load-done when N bytes arrived, then
 *                         m-edgekiln-crc-[crc32 of the N bytes, 8 hex digits]
 *   db print [N] [OFF]%   m-buffer-hh-hh-.. (8 bytes a line)
 *   infer N [W]%          W warm-up inferences, m-lap-us before and after N timed ones,
 *                         then the results (below)
 *   results%              the results of the last inference
 *   help%                 one line per command
 *   edgekiln-exit%        (edgekiln's own) m-ready, then the firmware stops: emulated
 *                         boards exit and their instruction counter writes its file
 * Every command ends with m-ready; errors are e-[text] lines. Results:
 *   m-results-[0.833333,0.166667,...]   outputs, decimal (6 places)
 *   m-results-bits-[3f555555,...]       the same floats' IEEE-754 bits (exact)
 *   m-label-[1]                         the model's label
 * Every buffer is the caller's and bounded: a longer command is refused whole ("too
 * long"), hex beyond `db load N` is ignored, nothing reads or writes past a buffer. Nothing
 * here touches the port: the host builds this file with clang/gcc to fuzz it. */
#ifndef EK_ENERGYRUNNER_H
#define EK_ENERGYRUNNER_H
#include <stdint.h>

#define EK_ER_CMD_SIZE 80u           /* characters of one command, '%' excluded */
#ifndef EK_ER_MAX_ITERATIONS
#define EK_ER_MAX_ITERATIONS 1000000u /* infer N / W above this are refused */
#endif

typedef struct ek_er ek_er_t;

/* What the firmware around the parser supplies. */
typedef struct {
    void (*put)(char c);
    void (*flush)(void);                               /* after each m-ready; may be NULL */
    void (*infer)(const uint8_t *input);               /* one inference on the loaded input */
    void (*results)(ek_er_t *er);                      /* prints the last results (ek_er_results) */
    uint32_t (*micros)(void);                          /* microseconds for m-lap-us; may be NULL */
    uint32_t (*cycles)(void);                          /* cycle counter, NULL when the port has none */
    void (*quit)(void);                                /* edgekiln-exit% (emulators end); may be NULL */
    const char *vendor, *firmware, *model, *info;      /* info: the m-edgekiln-[...] contents */
    uint32_t input_bytes;                              /* bytes one inference reads */
} ek_er_app_t;

struct ek_er {
    const ek_er_app_t *app;
    char cmd[EK_ER_CMD_SIZE + 1u];
    uint32_t cmd_len;
    uint8_t cmd_overflow, have_result;
    uint8_t *db;
    uint32_t db_cap, db_size, db_pos;
    uint32_t commands, errors, inferences;
};

void ek_er_init(ek_er_t *er, const ek_er_app_t *app, uint8_t *db, uint32_t db_cap);
/* The boot banner: m-timestamp-mode-performance, m-init-done, m-ready. */
void ek_er_boot(ek_er_t *er);
/* Feeds one received character; a '%' runs the command collected so far. */
void ek_er_rx(ek_er_t *er, char c);

/* Output helpers for the results hook. */
void ek_er_puts(const ek_er_t *er, const char *s);
void ek_er_put_u32(const ek_er_t *er, uint32_t v);
void ek_er_put_hex32(const ek_er_t *er, uint32_t v, uint32_t digits);
void ek_er_put_float(const ek_er_t *er, float v);
/* Prints m-results-[...], m-results-bits-[...] and m-label-[...]. */
void ek_er_results(const ek_er_t *er, int32_t label, const float *out, uint32_t n);

#endif
