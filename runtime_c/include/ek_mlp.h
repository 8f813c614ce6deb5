/* ek_mlp.h - elementwise hidden-layer activations of scikit-learn's MLPs (float32).
 * y may equal x (in place). */
#ifndef EK_MLP_H
#define EK_MLP_H
#include "ek_common.h"

typedef enum { EK_ACT_RELU = 0, EK_ACT_TANH = 1, EK_ACT_LOGISTIC = 2 } ek_act_t;

void ek_mlp_activation_f32(ek_act_t fn, uint32_t n, const float *x, float *y);

#endif
