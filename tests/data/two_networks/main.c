/* Two edgekiln networks in one firmware (tests/test_nn_export.py): the int8 KWS exported with
 * --name kwa and the float KWS with --name kwf, linked together with one runtime. Speaks
 * harness protocol 2 (ek_protocol.h) so the ordinary runner parses it: the input is the float
 * tensor (kwf's), quantized here for kwa by its input scale; the output tensor is kwa's 12
 * int8 bytes followed by kwf's 12 floats. */
#include <math.h>
#include <stddef.h>
#include <string.h>
#include "ek_port.h"
#include "ek_protocol.h"
#include "kwa/model.h"
#include "kwf/model.h"

#define IN_WORDS (KWF_INPUT_BYTES / 4u)
#if KWF_INPUT_BYTES != 4u * KWA_INPUT_BYTES
#error "kwf reads the float version of kwa's input"
#endif

static void fail(const char *msg)
{
    ek_write_str("EKERR ");
    ek_write_str(msg);
    ek_write_str("\n");
    ek_port_exit(2);
}

static int32_t read_int(void)
{
    char tok[16];
    int32_t v = 0;
    if (ek_read_token(tok, sizeof tok) == 0u || ek_parse_int(tok, &v) != 0) fail("expected an integer");
    return v;
}

int main(void)
{
    char tok[16];
    static uint8_t out[KWA_OUTPUT_BYTES + KWF_OUTPUT_BYTES];
    ek_port_setup();
    ek_write_str("EKNET 2 ");
    ek_write_int((int32_t)KWF_INPUT_BYTES);
    ek_write_str(" ");
    ek_write_int((int32_t)sizeof out);
    ek_write_str(" 0 0\n");
    if (ek_read_token(tok, sizeof tok) == 0u || tok[0] != 'E') fail("expected EKIN header");
    const int32_t n = read_int();
    if (read_int() != (int32_t)IN_WORDS) fail("input tensor size differs");
    (void)read_int(); /* flags: no tracing here */
    for (int32_t s = 0; s < n; s++) {
        float *xf = kwf_input();
        int8_t *xq = kwa_input();
        for (uint32_t w = 0; w < IN_WORDS; w++) {
            uint32_t bits = 0;
            if (ek_read_token(tok, sizeof tok) == 0u || ek_parse_hex32(tok, &bits) != 0) fail("bad input word");
            xf[w] = ek_float_from_bits(bits);
            const float q = roundf(xf[w] / KWA_INPUT_SCALE) + (float)KWA_INPUT_ZERO_POINT;
            xq[w] = (int8_t)(q < -128.0f ? -128.0f : (q > 127.0f ? 127.0f : q));
        }
        if (kwa_invoke() != 0 || kwf_invoke() != 0) fail("a kernel failed");
        memcpy(out, kwa_output(), KWA_OUTPUT_BYTES);
        memcpy(out + KWA_OUTPUT_BYTES, kwf_output(), KWF_OUTPUT_BYTES);
        ek_write_str("EKTENSOR ");
        ek_write_int(s);
        ek_write_str(" ");
        ek_write_bytes_hex(out, (uint32_t)sizeof out);
        ek_write_str("\n");
    }
    ek_write_str("EKSTACK -1\nEKDONE ");
    ek_write_int(n);
    ek_write_str("\n");
    ek_port_exit(0);
}
