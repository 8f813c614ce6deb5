/* ek_acc.h - names for one accumulator width in the fixed-point kernels.
 *
 * An s16 kernel exists once per accumulator type, as CMSIS-NN does it (separate functions,
 * not a build-wide switch): the generator picks int32 or int64 per node from the worst
 * case over the training ranges, so two models in one firmware may use different widths.
 * A kernel file defines EK_ACC_BITS (32 or 64) and includes its *_body.h once per width;
 * EK_ACC_T is the accumulator type and EK_ACC(name) appends _acc32 / _acc64. */
#ifndef EK_ACC_H
#define EK_ACC_H
#define EK_ACC_PASTE_(name, bits) name##_acc##bits
#define EK_ACC_PASTE(name, bits) EK_ACC_PASTE_(name, bits)
#endif

#undef EK_ACC_T
#undef EK_ACC
#if EK_ACC_BITS == 32
#define EK_ACC_T int32_t
#elif EK_ACC_BITS == 64
#define EK_ACC_T int64_t
#else
#error "EK_ACC_BITS must be 32 or 64"
#endif
#define EK_ACC(name) EK_ACC_PASTE(name, EK_ACC_BITS)
