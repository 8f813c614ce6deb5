/* ek_fo_file.c - open and check an EKF file, load the DRAM-resident tensors. */
#define _GNU_SOURCE                     /* O_DIRECT */
#define _FILE_OFFSET_BITS 64
#include "ek_fo_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ek_fo_crc32.h"
#include "ek_fo_json.h"

static const unsigned char MAGIC[8] = {0x89, 'E', 'K', 'F', '\r', '\n', 0x1a, '\n'};
#define FIXED_HEADER_BYTES 64
#define TABLE_ENTRY_BYTES 128
#define EKF_VERSION 1
#define MAX_JSON_TOKENS 65536

static int fail(ek_fo_file *f, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(f->err, sizeof f->err, "%s: ", f->path);
    va_start(ap, fmt);
    vsnprintf(f->err + n, sizeof f->err - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

int ek_fo_pread(ek_fo_file *f, void *buf, size_t n, uint64_t off)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = pread(f->fd, p, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return fail(f, "read of %zu bytes at offset %llu failed: %s", n, (unsigned long long)off,
                        strerror(errno));
        }
        if (r == 0)
            return fail(f, "file ends at offset %llu, inside a section (truncated); copy it again or re-pack "
                        "the model", (unsigned long long)off);
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

int ek_fo_enable_direct(ek_fo_file *f)
{
    static unsigned char probe[2 * EK_FO_ALIGN];
    unsigned char *p = probe + (EK_FO_ALIGN - (uintptr_t)probe % EK_FO_ALIGN) % EK_FO_ALIGN;
    int fd = open(f->path, O_RDONLY | O_DIRECT);
    if (fd < 0)
        return fail(f, "O_DIRECT not available (%s)", strerror(errno));
    if (pread(fd, p, EK_FO_ALIGN, 0) != EK_FO_ALIGN) {
        int e = errno;
        close(fd);
        return fail(f, "O_DIRECT reads fail on this file system (%s)", strerror(e));
    }
    f->dfd = fd;
    return 0;
}

int ek_fo_pread_direct(ek_fo_file *f, void *buf, size_t n, uint64_t off, unsigned char *bounce,
                       size_t bounce_bytes, uint64_t *dev_bytes)
{
    char *dst = buf;
    while (n > 0) {
        uint64_t lo = off / EK_FO_ALIGN * EK_FO_ALIGN;
        size_t skip = (size_t)(off - lo), take = bounce_bytes - skip < n ? bounce_bytes - skip : n;
        size_t span = (skip + take + EK_FO_ALIGN - 1) / EK_FO_ALIGN * EK_FO_ALIGN, got = 0;
        while (got < skip + take) {
            ssize_t r = pread(f->dfd, bounce + got, span - got, (off_t)(lo + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return fail(f, "O_DIRECT read of %zu bytes at offset %llu failed: %s", span,
                            (unsigned long long)lo, strerror(errno));
            if (r == 0)
                return fail(f, "file ends at offset %llu, inside a section (truncated); copy it again or "
                            "re-pack the model", (unsigned long long)(lo + got));
            got += (size_t)r;
        }
        memcpy(dst, bounce + skip, take);
        *dev_bytes += got;
        dst += take;
        off += take;
        n -= take;
    }
    return 0;
}

const ek_fo_section *ek_fo_find(const ek_fo_file *f, const char *name)
{
    for (uint32_t i = 0; i < f->n_sections; i++)
        if (strcmp(f->sections[i].name, name) == 0)
            return &f->sections[i];
    return NULL;
}

static int read_header(ek_fo_file *f)
{
    unsigned char h[FIXED_HEADER_BYTES];
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return fail(f, "cannot stat: %s", strerror(errno));
    uint64_t size = (uint64_t)st.st_size;
    if (size < FIXED_HEADER_BYTES || ek_fo_pread(f, h, sizeof h, 0) != 0 || memcmp(h, MAGIC, 8) != 0)
        return fail(f, "not an EKF bundled weight file (bad magic bytes); pack the model with "
                    "`kiln flash-offload pack`");
    uint32_t version = le32(h + 8);
    if (version != EKF_VERSION)
        return fail(f, "EKF version %u; this runtime reads version %d. Re-pack the model with this edgekiln",
                    version, EKF_VERSION);
    f->n_sections = le32(h + 12);
    f->data_start = le64(h + 16);
    f->file_size = le64(h + 24);
    uint32_t table_off = le32(h + 32), json_off = le32(h + 36), json_len = le32(h + 40), hcrc = le32(h + 44);
    if (size < f->file_size)
        return fail(f, "truncated: %llu bytes of %llu; copy it again or re-pack the model",
                    (unsigned long long)size, (unsigned long long)f->file_size);
    uint64_t table_bytes = (uint64_t)f->n_sections * TABLE_ENTRY_BYTES;
    if (f->n_sections == 0 || table_off < FIXED_HEADER_BYTES || table_off + table_bytes > json_off ||
        (uint64_t)json_off + json_len > f->data_start || f->data_start > f->file_size)
        return fail(f, "corrupt header (section table or metadata out of bounds); re-pack the model");

    unsigned char *table = malloc((size_t)table_bytes);
    f->json = malloc((size_t)json_len + 1);
    f->sections = calloc(f->n_sections, sizeof *f->sections);
    if (!table || !f->json || !f->sections) {
        free(table);
        return fail(f, "out of memory reading the header");
    }
    if (ek_fo_pread(f, table, (size_t)table_bytes, table_off) != 0 ||
        ek_fo_pread(f, f->json, json_len, json_off) != 0) {
        free(table);
        return -1;
    }
    f->json[json_len] = '\0';
    f->json_len = json_len;
    uint32_t crc = ek_fo_crc32(ek_fo_crc32(0, table, (size_t)table_bytes), f->json, json_len);
    if (crc != hcrc) {
        free(table);
        return fail(f, "header checksum mismatch (file corrupt): crc32 %08x, header says %08x; re-pack the model",
                    crc, hcrc);
    }
    for (uint32_t i = 0; i < f->n_sections; i++) {
        const unsigned char *e = table + (size_t)i * TABLE_ENTRY_BYTES;
        ek_fo_section *s = &f->sections[i];
        memcpy(s->name, e, EK_FO_NAME_BYTES);
        s->name[EK_FO_NAME_BYTES - 1] = '\0';
        s->kind = le32(e + 64);
        s->layer = le32(e + 68);
        s->ndim = le32(e + 72);
        for (int k = 0; k < 4; k++)
            s->dims[k] = le32(e + 76 + 4 * k);
        s->crc32 = le32(e + 92);
        s->offset = le64(e + 96);
        s->nbytes = le64(e + 104);
        s->stride = le64(e + 112);
        if (s->offset % EK_FO_ALIGN != 0 || s->offset < f->data_start || s->offset + s->nbytes > f->file_size ||
            s->ndim > 4)
            fail(f, "corrupt section table entry %u (%s); re-pack the model", i, s->name);
        if (f->err[0]) {
            free(table);
            return -1;
        }
    }
    free(table);
    return 0;
}

/* Number of heads from the JSON config (the only field the binary table cannot give). */
static int read_config(ek_fo_file *f)
{
    ek_fo_jtok *toks = malloc(sizeof(ek_fo_jtok) * MAX_JSON_TOKENS);
    char jerr[200];
    if (!toks)
        return fail(f, "out of memory parsing the metadata");
    int n = ek_fo_json_parse(f->json, (int)f->json_len, toks, MAX_JSON_TOKENS, jerr, sizeof jerr);
    if (n < 0) {
        free(toks);
        return fail(f, "%s; re-pack the model", jerr);
    }
    int cfg = ek_fo_json_get(f->json, toks, 0, "config");
    static const char *keys[] = {"h", "n_heads", "n_head"};
    int64_t heads = -1;
    for (int k = 0; k < 3 && heads < 0; k++) {
        int v = ek_fo_json_get(f->json, toks, cfg, keys[k]);
        if (v >= 0 && ek_fo_json_int(f->json, &toks[v], &heads) != 0)
            heads = 0;
    }
    int mh = ek_fo_json_get(f->json, toks, 0, "model_hash");
    if (mh < 0 || ek_fo_json_str(f->json, &toks[mh], f->model_hash, sizeof f->model_hash) != 0)
        f->model_hash[0] = '\0';
    free(toks);
    if (heads <= 0)
        return fail(f, "metadata config has no positive head count (h); pack the model with `kiln flash-offload pack`");
    f->model.h = (int)heads;
    return 0;
}

static const float *tensor(ek_fo_file *f, const char *name, uint32_t d0, uint32_t d1)
{
    const ek_fo_section *s = ek_fo_find(f, name);
    if (s == NULL || s->kind != EK_FO_K_RESIDENT) {
        fail(f, "no resident tensor %s; the file does not hold a flash_offload decoder LM", name);
        return NULL;
    }
    uint32_t want_ndim = d1 ? 2u : 1u;
    if (s->ndim != want_ndim || s->dims[0] != d0 || (d1 && s->dims[1] != d1)) {
        fail(f, "tensor %s has shape (%u,%u) [ndim %u], expected (%u,%u); the file does not match the model spec",
             name, s->dims[0], s->dims[1], s->ndim, d0, d1);
        return NULL;
    }
    /* Resident tensors are loaded back to back in table order. */
    uint64_t pos = 0;
    for (uint32_t i = 0; i < f->n_sections; i++) {
        if (&f->sections[i] == s)
            return f->resident + pos / 4;
        if (f->sections[i].kind == EK_FO_K_RESIDENT)
            pos += f->sections[i].nbytes;
    }
    return NULL;
}

static int load_resident(ek_fo_file *f)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < f->n_sections; i++)
        if (f->sections[i].kind == EK_FO_K_RESIDENT)
            total += f->sections[i].nbytes;
    f->resident_bytes = total;
    f->resident = malloc((size_t)total + 4);
    if (!f->resident)
        return fail(f, "cannot allocate %llu bytes for the resident tensors", (unsigned long long)total);
    char *p = (char *)f->resident;
    for (uint32_t i = 0; i < f->n_sections; i++) {
        const ek_fo_section *s = &f->sections[i];
        if (s->kind != EK_FO_K_RESIDENT)
            continue;
        if (ek_fo_pread(f, p, (size_t)s->nbytes, s->offset) != 0)
            return -1;
        uint32_t crc = ek_fo_crc32(0, p, (size_t)s->nbytes);
        if (crc != s->crc32)
            return fail(f, "checksum mismatch in section '%s' (file corrupt): crc32 %08x, table says %08x; "
                        "copy the file again or re-pack the model", s->name, crc, s->crc32);
        p += s->nbytes;
    }
    return 0;
}

static int bind_model(ek_fo_file *f)
{
    ek_fo_model *m = &f->model;
    const ek_fo_section *te = ek_fo_find(f, "tok_emb"), *pe = ek_fo_find(f, "pos_emb");
    if (!te || !pe || te->ndim != 2 || pe->ndim != 2)
        return fail(f, "no 2-D tok_emb/pos_emb tensors; the file does not hold a flash_offload decoder LM");
    m->V = (int)te->dims[0];
    m->d = (int)te->dims[1];
    m->T = (int)pe->dims[0];
    uint32_t d = (uint32_t)m->d, L = 0;
    for (uint32_t i = 0; i < f->n_sections; i++)
        if (f->sections[i].kind == EK_FO_K_BUNDLED && f->sections[i].layer + 1 > L)
            L = f->sections[i].layer + 1;
    if (L == 0)
        return fail(f, "no bundled neuron sections; re-pack with --layout bundled");
    if (m->h <= 0 || m->d % m->h != 0)
        return fail(f, "h=%d heads do not divide d_model=%d", m->h, m->d);
    m->L = (int)L;
    m->layers = calloc(L, sizeof *m->layers);
    f->bundled = calloc(L, sizeof *f->bundled);
    if (!m->layers || !f->bundled)
        return fail(f, "out of memory");
    m->tok_emb = tensor(f, "tok_emb", (uint32_t)m->V, d);
    m->pos_emb = tensor(f, "pos_emb", (uint32_t)m->T, d);
    m->lnf_g = tensor(f, "lnf_g", d, 0);
    m->lnf_b = tensor(f, "lnf_b", d, 0);
    char name[EK_FO_NAME_BYTES];
    for (uint32_t l = 0; l < L; l++) {
        ek_fo_layer_w *w = &m->layers[l];
#define T1(field) (snprintf(name, sizeof name, "l%u." #field, l), w->field = tensor(f, name, d, 0))
#define T2(field) (snprintf(name, sizeof name, "l%u." #field, l), w->field = tensor(f, name, d, d))
        T1(ln1_g); T1(ln1_b); T2(wq); T2(wk); T2(wv); T2(wo); T1(bq); T1(bk); T1(bv); T1(bo);
        T1(ln2_g); T1(ln2_b); T1(b_down);
#undef T1
#undef T2
        snprintf(name, sizeof name, "l%u.bundled", l);
        const ek_fo_section *b = ek_fo_find(f, name);
        if (!b || b->kind != EK_FO_K_BUNDLED || b->ndim != 2 || b->dims[1] < 2 * d + 1 ||
            b->stride < 4ull * (2 * d + 1) || b->nbytes != (uint64_t)b->dims[0] * b->stride)
            return fail(f, "layer %u has no valid bundled section (need [up | down | b_up] bundles of %u floats)",
                        l, 2 * d + 1);
        if (l > 0 && b->stride != f->bundle_stride)
            return fail(f, "layers have different bundle strides; re-pack the model");
        f->bundle_stride = b->stride;
        f->bundled[l] = b;
        if (l == 0 || (int)b->dims[0] > m->f)
            m->f = (int)b->dims[0];
    }
    return f->err[0] ? -1 : 0;
}

int ek_fo_open(ek_fo_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    f->dfd = -1;
    f->fd = open(path, O_RDONLY);
    if (f->fd < 0)
        return fail(f, "cannot open: %s; create one with `kiln flash-offload pack`", strerror(errno));
    if (read_header(f) || read_config(f) || load_resident(f) || bind_model(f))
        return -1;
    return 0;
}

int ek_fo_verify_neurons(ek_fo_file *f, void *staging, size_t staging_bytes)
{
    for (int l = 0; l < f->model.L; l++) {
        const ek_fo_section *s = f->bundled[l];
        uint32_t crc = 0;
        for (uint64_t done = 0; done < s->nbytes;) {
            size_t n = (size_t)(s->nbytes - done < staging_bytes ? s->nbytes - done : staging_bytes);
            if (ek_fo_pread(f, staging, n, s->offset + done) != 0)
                return -1;
            crc = ek_fo_crc32(crc, staging, n);
            done += n;
        }
        if (crc != s->crc32)
            return fail(f, "checksum mismatch in section '%s' (file corrupt): crc32 %08x, table says %08x; "
                        "copy the file again or re-pack the model", s->name, crc, s->crc32);
    }
    return 0;
}

void ek_fo_close(ek_fo_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->dfd >= 0)
        close(f->dfd);
    free(f->sections); free(f->json); free(f->resident); free(f->bundled); free(f->model.layers);
    f->sections = NULL; f->json = NULL; f->resident = NULL; f->bundled = NULL; f->model.layers = NULL;
    f->fd = -1;
    f->dfd = -1;
}
