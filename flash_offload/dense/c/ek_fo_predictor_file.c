/* ek_fo_predictor_file.c - loads the predictor .npz of flash_offload/predictor.py
 * (meta: JSON in a 0-d unicode array with format, model_hash, tau per layer; arrays
 * l{i}.w1 (d,r), l{i}.b1 (r), l{i}.w2 (r,f), l{i}.b2 (f), float32; l{i}.freq (f) if present). */
#include "ek_fo_predictor_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ek_fo_json.h"
#include "ek_fo_npz.h"

#define FORMAT "edgekiln-flash-predictor-v1"
#define MAX_TOKS 4096

typedef struct {
    ek_fo_npz *z;
    char *meta;
    ek_fo_jtok *toks;
} loader;

static int done(loader *ld, int rc)
{
    if (ld->z) {
        ek_fo_npz_close(ld->z);
        free(ld->z);
    }
    free(ld->meta);
    free(ld->toks);
    return rc;
}

static const ek_fo_npy *array(const ek_fo_npz *z, int l, const char *what, int64_t d0, int64_t d1)
{
    char name[EK_FO_NPZ_NAME];
    snprintf(name, sizeof name, "l%d.%s", l, what);
    const ek_fo_npy *a = ek_fo_npz_get(z, name);
    int ndim = d1 >= 0 ? 2 : 1;
    if (!a || strcmp(a->descr, "<f4") != 0 || a->ndim != ndim || a->shape[0] != d0 ||
        (ndim == 2 && a->shape[1] != d1) ||
        a->nbytes < (uint64_t)d0 * (uint64_t)(d1 >= 0 ? d1 : 1) * 4u)
        return NULL;
    return a;
}

int ek_fo_predictor_load(ek_fo_predictor *p, const char *path, const ek_fo_file *model, char *err, size_t err_len)
{
    loader ld = {calloc(1, sizeof(ek_fo_npz)), NULL, malloc(sizeof(ek_fo_jtok) * MAX_TOKS)};
    const ek_fo_model *m = &model->model;
    memset(p, 0, sizeof *p);
    if (!ld.z || !ld.toks) {
        snprintf(err, err_len, "out of memory loading the predictor");
        return done(&ld, -1);
    }
    if (ek_fo_npz_open(ld.z, path, err, err_len) != 0)
        return done(&ld, -1);
    const ek_fo_npy *meta = ek_fo_npz_get(ld.z, "meta");
    if (!meta || meta->descr[0] != '<' || meta->descr[1] != 'U' || meta->ndim != 0) {
        snprintf(err, err_len, "%s: no meta string; not a flash_offload predictor", path);
        return done(&ld, -1);
    }
    size_t chars = (size_t)(meta->nbytes / 4);          /* UTF-32LE code units */
    ld.meta = malloc(chars + 1);
    if (!ld.meta) {
        snprintf(err, err_len, "out of memory loading the predictor");
        return done(&ld, -1);
    }
    size_t len = 0;
    for (size_t i = 0; i < chars; i++) {
        uint32_t c = (uint32_t)meta->data[4 * i] | (uint32_t)meta->data[4 * i + 1] << 8 |
                     (uint32_t)meta->data[4 * i + 2] << 16 | (uint32_t)meta->data[4 * i + 3] << 24;
        if (c == 0)
            break;                                      /* numpy pads short strings with NULs */
        ld.meta[len++] = c < 128 ? (char)c : '?';
    }
    ld.meta[len] = '\0';
    char jerr[200];
    if (ek_fo_json_parse(ld.meta, (int)len, ld.toks, MAX_TOKS, jerr, sizeof jerr) < 0) {
        snprintf(err, err_len, "%s: predictor metadata: %s", path, jerr);
        return done(&ld, -1);
    }
    int fmt = ek_fo_json_get(ld.meta, ld.toks, 0, "format"), mh = ek_fo_json_get(ld.meta, ld.toks, 0, "model_hash");
    int tau = ek_fo_json_get(ld.meta, ld.toks, 0, "tau");
    char hash[72] = "";
    if (fmt < 0 || !ek_fo_json_streq(ld.meta, &ld.toks[fmt], FORMAT) || tau < 0 || ld.toks[tau].type != EK_FO_J_ARRAY) {
        snprintf(err, err_len, "%s is not a flash_offload predictor (format " FORMAT " expected)", path);
        return done(&ld, -1);
    }
    if (mh < 0 || ek_fo_json_str(ld.meta, &ld.toks[mh], hash, sizeof hash) != 0 ||
        strcmp(hash, model->model_hash) != 0) {
        snprintf(err, err_len, "the predictor %s was trained for model %.12s..., not for %s (%.12s...); train one "
                 "for it with `kiln flash-offload train-predictor`", path, hash, model->path, model->model_hash);
        return done(&ld, -1);
    }
    if (ld.toks[tau].size != m->L) {
        snprintf(err, err_len, "%s has %d layers, the model %d; train a predictor for this model", path,
                 ld.toks[tau].size, m->L);
        return done(&ld, -1);
    }
    /* Sizes first, then one block for every tensor (the .npy data need not be aligned). */
    const ek_fo_npy *w1[256], *b1[256], *w2[256], *b2[256], *fq[256];
    uint64_t floats = 0;
    if (m->L > 256) {
        snprintf(err, err_len, "%s: more than 256 layers", path);
        return done(&ld, -1);
    }
    for (int l = 0; l < m->L; l++) {
        char nm[EK_FO_NPZ_NAME];
        snprintf(nm, sizeof nm, "l%d.w1", l);
        const ek_fo_npy *a = ek_fo_npz_get(ld.z, nm);
        int64_t r = (a && a->ndim == 2) ? a->shape[1] : -1, fl = (int64_t)model->bundled[l]->dims[0];
        w1[l] = array(ld.z, l, "w1", m->d, r);
        b1[l] = array(ld.z, l, "b1", r, -1);
        w2[l] = array(ld.z, l, "w2", r, fl);
        b2[l] = array(ld.z, l, "b2", fl, -1);
        fq[l] = array(ld.z, l, "freq", fl, -1);     /* optional */
        if (r <= 0 || !w1[l] || !b1[l] || !w2[l] || !b2[l]) {
            snprintf(err, err_len, "%s: layer %d needs float32 w1 (%d,r), b1 (r), w2 (r,%lld), b2 (%lld)", path, l,
                     m->d, (long long)fl, (long long)fl);
            return done(&ld, -1);
        }
        floats += (uint64_t)(m->d * r + r + r * fl + fl + (fq[l] ? fl : 0));
        if (r > p->max_r)
            p->max_r = (int)r;
    }
    p->blob = malloc((size_t)floats * sizeof(float));
    p->layers = calloc((size_t)m->L, sizeof *p->layers);
    if (!p->blob || !p->layers) {
        snprintf(err, err_len, "out of memory loading the predictor");
        return done(&ld, -1);
    }
    float *dst = p->blob;
    for (int l = 0; l < m->L; l++) {
        ek_fo_pred_layer *pl = &p->layers[l];
        const ek_fo_npy *src[5] = {w1[l], b1[l], w2[l], b2[l], fq[l]};
        const float **ptr[5] = {&pl->w1, &pl->b1, &pl->w2, &pl->b2, &pl->freq};
        pl->r = (int)w1[l]->shape[1];
        pl->f = (int)b2[l]->shape[0];
        for (int k = 0; k < 5 && src[k]; k++) {
            uint64_t n = (uint64_t)src[k]->shape[0] * (src[k]->ndim == 2 ? (uint64_t)src[k]->shape[1] : 1u);
            memcpy(dst, src[k]->data, (size_t)n * sizeof(float));
            *ptr[k] = dst;
            dst += n;
        }
        double t;
        if (ek_fo_json_num(ld.meta, &ld.toks[ek_fo_json_item(ld.toks, tau, l)], &t) != 0) {
            snprintf(err, err_len, "%s: tau[%d] is not a number", path, l);
            return done(&ld, -1);
        }
        pl->threshold = (float)t;   /* numpy compares float32 logits with tau cast to float32 */
    }
    p->L = m->L;
    p->d = m->d;
    p->bytes = floats * sizeof(float);
    return done(&ld, 0);
}

void ek_fo_predictor_free(ek_fo_predictor *p)
{
    free(p->layers);
    free(p->blob);
    memset(p, 0, sizeof *p);
}
