/* ek_linear_q.h - fixed-point dense layer: acc = W x + b with int16 weights and inputs
 * (values of 16 bits held in int32) and an ek_qacc_t accumulator (ek_fixed.h). */
#ifndef EK_LINEAR_Q_H
#define EK_LINEAR_Q_H
#include "ek_fixed.h"

/* y[r] = b[r] + sum_c w[r*cols + c] * x[c], exact in the accumulator (the generator proved
 * from the training ranges that it cannot overflow). b may be NULL. */
void ek_linear_q(const ek_ctx_t *ctx, const int16_t *w, const ek_qacc_t *b, uint32_t rows, uint32_t cols,
                 const int32_t *x, ek_qacc_t *y);

/* Index of the largest accumulator, first on ties. */
int32_t ek_argmax_q(const ek_qacc_t *v, uint32_t n);

#endif
