/* Reference fixed-point distances, nearest centroid and k nearest neighbours, with int32
 * and int64 accumulators. The same slicing and merge rules as ek_distance_f32.c; integer
 * distances make them exact. */
#include "ek_distance_s16.h"
#include "ek_parallel.h"
#include "ek_topk.h"

#define EK_ACC_BITS 32
#include "ek_distance_s16_body.h"
#undef EK_ACC_BITS
#define EK_ACC_BITS 64
#include "ek_distance_s16_body.h"
