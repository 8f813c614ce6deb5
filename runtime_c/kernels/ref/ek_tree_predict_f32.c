/* Reference tree/forest kernels, once per (index, feature) width pair of ek_tree.h. */
#include "ek_tree.h"
#include "ek_argmax.h"
#include "ek_parallel.h"

uint32_t ek_tree_classify_f32_scratch_bytes(uint32_t n_classes, uint32_t n_trees)
{
    return (n_classes + n_trees) * (uint32_t)sizeof(float);
}

uint32_t ek_tree_vote_f32_scratch_bytes(uint32_t n_classes, uint32_t n_cores)
{
    return n_classes * (1u + (n_cores > 1u ? n_cores : 0u)) * (uint32_t)sizeof(int32_t);
}

#define EK_TREE(name) name##_i16_u8
#define EK_TREE_T ek_tree_ensemble_i16_u8_t
#include "ek_tree_predict_f32_body.h"
#undef EK_TREE
#undef EK_TREE_T
#define EK_TREE(name) name##_i16_u16
#define EK_TREE_T ek_tree_ensemble_i16_u16_t
#include "ek_tree_predict_f32_body.h"
#undef EK_TREE
#undef EK_TREE_T
#define EK_TREE(name) name##_i32_u8
#define EK_TREE_T ek_tree_ensemble_i32_u8_t
#include "ek_tree_predict_f32_body.h"
#undef EK_TREE
#undef EK_TREE_T
#define EK_TREE(name) name##_i32_u16
#define EK_TREE_T ek_tree_ensemble_i32_u16_t
#include "ek_tree_predict_f32_body.h"
#undef EK_TREE
#undef EK_TREE_T
