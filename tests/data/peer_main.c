/* Test driver for benchmarks/peers: reads float32 rows from argv[1], prints "label out..." per row. */
#include <stdio.h>
#include <stdlib.h>
#include "model.h"
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 2;
    float x[EK_MODEL_N_FEATURES];
    float out[EK_MODEL_N_OUTPUTS];
    while (fread(x, sizeof(float), EK_MODEL_N_FEATURES, f) == EK_MODEL_N_FEATURES) {
        int32_t label = -99;
        ek_model_run(x, &label, out);
        printf("%d", (int)label);
        for (int i = 0; i < EK_MODEL_N_OUTPUTS; i++) printf(" %.9g", out[i]);
        printf("\n");
    }
    fclose(f);
    return 0;
}
