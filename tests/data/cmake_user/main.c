/* A user's program calling an exported model (`kiln export --name iris`) through its C API:
 * reads rows of IRIS_N_FEATURES numbers from stdin, prints the class index and the
 * probabilities of each row. */
#include <stdio.h>
#include "model.h"

int main(void)
{
    float x[IRIS_N_FEATURES];
    float proba[IRIS_N_OUTPUTS];
    for (;;) {
        for (int i = 0; i < IRIS_N_FEATURES; i++)
            if (scanf("%f", &x[i]) != 1) return 0;
        iris_predict_proba(x, proba);
        printf("%d", (int)iris_predict(x));
        for (int k = 0; k < IRIS_N_OUTPUTS; k++) printf(" %.9g", (double)proba[k]);
        printf("\n");
    }
}
