/* Two edgekiln models in one firmware (tests/test_two_models.py): `tree` and `lin`, exported
 * with --name tree / --name lin into tree/ and lin/ and linked together with one runtime.
 * Speaks the harness protocol (ek_protocol.h) so the ordinary runner parses it: per sample
 * "EKOUT i <tree class index> <lin class index as float bits>". Samples come preloaded. */
#include <stddef.h>
#include "ek_port.h"
#include "ek_protocol.h"
#include "tree/model.h"
#include "lin/model.h"

#if TREE_N_FEATURES != LIN_N_FEATURES
#error "both models read the same samples"
#endif

static void fail(const char *msg)
{
    ek_write_str("EKERR ");
    ek_write_str(msg);
    ek_write_str("\n");
    ek_port_exit(2);
}

int main(void)
{
    ek_port_setup();
    ek_write_str("EKREADY ");
    ek_write_int(TREE_N_FEATURES);
    ek_write_str(" 1 0\n");
    const ek_bulk_input_t *bulk = ek_port_bulk_input();
    if (bulk == NULL || bulk->magic != EK_BULK_MAGIC) fail("this test firmware reads preloaded samples only");
    if (bulk->n_features != TREE_N_FEATURES) fail("feature count differs from the models");
    for (uint32_t i = 0; i < bulk->n_samples; i++) {
        const float *x = &bulk->data[i * TREE_N_FEATURES];
        int32_t tree_label = tree_predict(x);
        int32_t lin_label = -1;
        float lin_proba[LIN_N_OUTPUTS];
        lin_run(x, &lin_label, lin_proba); /* the harness entry, prefixed too */
        if (lin_label != lin_predict(x)) fail("lin_run and lin_predict disagree");
        ek_write_str("EKOUT ");
        ek_write_int((int32_t)i);
        ek_write_str(" ");
        ek_write_int(tree_label);
        ek_write_str(" ");
        ek_write_hex32(ek_float_to_bits((float)lin_label));
        ek_write_str("\n");
    }
    ek_write_str("EKSTACK -1\nEKDONE ");
    ek_write_int((int32_t)bulk->n_samples);
    ek_write_str("\n");
    ek_port_exit(0);
}
