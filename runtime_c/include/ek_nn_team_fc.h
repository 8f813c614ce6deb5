/* ek_nn_team_fc.h - a fully connected layer whose output features are split across the
 * team (ek_parallel.h), the reference arithmetic per feature (TFLite's
 * reference_integer_ops::FullyConnected) for int8 (s4 = 0) or packed int4 (s4 = 1) weights:
 * integer sums, so the bytes are the one-core kernel's for any core count. */
#ifndef EK_NN_TEAM_FC_H
#define EK_NN_TEAM_FC_H
#include "ek_nn.h"
#include "ek_nn_ref.h"
#include "ek_parallel.h"

typedef struct {
    const ek_fc_params_t *p;
    const ek_requant_t *q;
    int32_t batches, in_features, out_features;
    const int8_t *in;
    const void *w;
    const int32_t *bias;
    int8_t *out;
} ek_fc_team_job_t;

static inline __attribute__((always_inline)) void ek_fc_team_features(const ek_fc_team_job_t *j, int32_t begin,
                                                                      int32_t end, int32_t s4)
{
    const ek_fc_params_t *p = j->p;
    for (int32_t b = 0; b < j->batches; b++) {
        const int8_t *x = j->in + b * j->in_features;
        for (int32_t n = begin; n < end; n++) {
            const int32_t row = n * j->in_features;
            int32_t acc = j->bias ? j->bias[n] : 0;
            for (int32_t k = 0; k < j->in_features; k++)
                acc += ((int32_t)x[k] + p->input_offset) * (ek_w_at(j->w, row + k, s4) + p->filter_offset);
            const int32_t qc = j->q->n_channels == 1 ? 0 : n;
            j->out[b * j->out_features + n] =
                ek_requant_scale_s8(acc, j->q->scale[qc], p->output_offset, p->act_min, p->act_max);
        }
    }
}

/* This core's slice of the features ([begin, end) of ek_team_slice). */
static inline __attribute__((always_inline)) void ek_fc_team_slice(const ek_fc_team_job_t *j, int32_t s4)
{
    uint32_t begin, end;
    ek_team_slice((uint32_t)j->out_features, &begin, &end);
    ek_fc_team_features(j, (int32_t)begin, (int32_t)end, s4);
}

#endif
