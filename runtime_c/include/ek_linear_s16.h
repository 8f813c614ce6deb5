/* ek_linear_s16.h - fixed-point dense layer: acc = W x + b with int16 weights and inputs
 * (values of 16 bits held in int32), one function per accumulator width (ek_acc.h). */
#ifndef EK_LINEAR_S16_H
#define EK_LINEAR_S16_H
#include "ek_fixed.h"

/* y[r] = b[r] + sum_c w[r*cols + c] * x[c], exact in the accumulator (the generator proved
 * from the training ranges that it cannot overflow). b may be NULL. */
void ek_linear_s16_acc32(const ek_ctx_t *ctx, const int16_t *w, const int32_t *b, uint32_t rows, uint32_t cols,
                         const int32_t *x, int32_t *y);
void ek_linear_s16_acc64(const ek_ctx_t *ctx, const int16_t *w, const int64_t *b, uint32_t rows, uint32_t cols,
                         const int32_t *x, int64_t *y);

/* Index of the largest accumulator, first on ties. */
int32_t ek_argmax_s32(const int32_t *v, uint32_t n);
int32_t ek_argmax_s64(const int64_t *v, uint32_t n);

#endif
