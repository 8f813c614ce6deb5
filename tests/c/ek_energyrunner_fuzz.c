/* Fuzz target for the EnergyRunner command parser (runtime_c/protocol/ek_energyrunner.c),
 * built for the host with clang -fsanitize=fuzzer (libFuzzer), address and undefined.
 * The input buffer is a heap block of exactly its capacity, so ASan catches any access past
 * it. Checks: every '%' gets exactly one m-ready, the parser's counters stay inside their
 * buffers, the output is printable ASCII lines, an inference only ever sees a full input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ek_energyrunner.h"

#define INPUT_BYTES 16u

static uint32_t readies, line_len;
static char line[16];

static void put(char c)
{
    if (!((c >= 0x20 && c < 0x7f) || c == '\r' || c == '\n')) abort();
    if (c == '\n') {
        if (line_len == 8u && memcmp(line, "m-ready\r", 8) == 0) readies++;
        line_len = 0;
    } else {
        if (line_len < sizeof line) line[line_len] = c;
        line_len++;
    }
}

static void infer(const uint8_t *in)
{
    volatile uint8_t sum = 0;
    for (uint32_t i = 0; i < INPUT_BYTES; i++) sum = (uint8_t)(sum + in[i]); /* reads all of it */
}

static void results(ek_er_t *er)
{
    const float out[3] = {0.5f, -1e12f, 0.0f / 0.0f};
    ek_er_results(er, -3, out, 3);
}

static uint32_t micros(void)
{
    return 12345u;
}

static const ek_er_app_t app = {put, NULL, infer, results, micros, micros, NULL,
                                "fuzz", "fuzz fw", "m", "k=v", INPUT_BYTES};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *db = malloc(INPUT_BYTES);
    ek_er_t er;
    ek_er_init(&er, &app, db, INPUT_BYTES);
    readies = line_len = 0;
    uint32_t commands = 0;
    for (size_t i = 0; i < size; i++) {
        /* built with -DEK_ER_MAX_ITERATIONS=100: larger "infer N" counts would only be slow */
        const char c = (char)data[i];
        ek_er_rx(&er, c);
        if (c == '%') commands++;
        if (er.cmd_len > EK_ER_CMD_SIZE || er.db_size > er.db_cap || er.db_pos > er.db_size) abort();
        if (readies != commands) abort();
    }
    free(db);
    return 0;
}
