/* ek_fo_npz.c - walks the zip local headers of an uncompressed .npz and parses each .npy
 * header ({'descr': ..., 'fortran_order': False, 'shape': (...)}). */
#include "ek_fo_npz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ek_fo_crc32.h"

static uint32_t u16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t u32(const unsigned char *p) { return u16(p) | u16(p + 2) << 16; }
static uint64_t u64(const unsigned char *p) { return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32; }

static int parse_npy(ek_fo_npy *a, const unsigned char *p, uint64_t n)
{
    if (n < 10 || memcmp(p, "\x93NUMPY", 6) != 0)
        return -1;
    uint64_t hlen, hoff;
    if (p[6] == 1) {
        hlen = u16(p + 8);
        hoff = 10;
    } else {
        if (n < 12)
            return -1;
        hlen = u32(p + 8);
        hoff = 12;
    }
    if (hoff + hlen > n || hlen > 4096)
        return -1;
    char h[4097];
    memcpy(h, p + hoff, (size_t)hlen);
    h[hlen] = '\0';
    const char *d = strstr(h, "'descr':"), *fo = strstr(h, "'fortran_order':"), *sh = strstr(h, "'shape':");
    if (!d || !fo || !sh || strncmp(fo + 16, " False", 6) != 0)
        return -1;
    if (sscanf(d + 8, " '%15[^']'", a->descr) != 1)
        return -1;
    const char *q = strchr(sh, '(');
    if (!q)
        return -1;
    a->ndim = 0;
    for (q++; *q && *q != ')';) {
        char *end;
        long long v = strtoll(q, &end, 10);
        if (end == q) {
            q++;
            continue;
        }
        if (a->ndim == 4 || v < 0)
            return -1;
        a->shape[a->ndim++] = v;
        q = end;
    }
    a->data = p + hoff + hlen;
    a->nbytes = n - hoff - hlen;
    return 0;
}

int ek_fo_npz_open(ek_fo_npz *z, const char *path, char *err, size_t err_len)
{
    memset(z, 0, sizeof *z);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, err_len, "%s: cannot open the predictor file; train one with `kiln flash-offload "
                 "train-predictor`", path);
        return -1;
    }
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    z->image = malloc(size > 0 ? (size_t)size : 1);
    if (!z->image || size <= 0 || fread(z->image, 1, (size_t)size, fp) != (size_t)size) {
        fclose(fp);
        snprintf(err, err_len, "%s: cannot read the predictor file", path);
        return -1;
    }
    fclose(fp);
    z->size = (uint64_t)size;
    uint64_t off = 0;
    while (off + 30 <= z->size && u32(z->image + off) == 0x04034b50u) {
        const unsigned char *h = z->image + off;
        uint32_t flags = u16(h + 6), method = u16(h + 8), crc = u32(h + 14);
        uint64_t csize = u32(h + 18), usize = u32(h + 22);
        uint32_t nlen = u16(h + 26), xlen = u16(h + 28);
        if (off + 30 + nlen + xlen > z->size)
            break;
        const unsigned char *x = h + 30 + nlen;
        for (uint32_t i = 0; i + 4 <= xlen;) {          /* zip64 extra: real sizes */
            uint32_t id = u16(x + i), len = u16(x + i + 2);
            if (id == 1 && len >= 16 && i + 4 + len <= xlen) {
                if (usize == 0xFFFFFFFFu)
                    usize = u64(x + i + 4);
                if (csize == 0xFFFFFFFFu)
                    csize = u64(x + i + 12);
            }
            i += 4 + len;
        }
        uint64_t data = off + 30 + nlen + xlen;
        if ((flags & 8u) || method != 0 || csize != usize) {
            snprintf(err, err_len, "%s: member %u is compressed or streamed; predictor files are written "
                     "uncompressed by numpy.savez (re-save the predictor)", path, (unsigned)z->n);
            return -1;
        }
        if (data + csize > z->size) {
            snprintf(err, err_len, "%s: truncated (a member runs past the end of the file); copy it again", path);
            return -1;
        }
        if (ek_fo_crc32(0, z->image + data, (size_t)csize) != crc) {
            snprintf(err, err_len, "%s: checksum mismatch in member %.*s (file corrupt); copy it again or "
                     "re-train the predictor", path, (int)nlen, (const char *)(h + 30));
            return -1;
        }
        if (z->n == EK_FO_NPZ_MAX_MEMBERS || nlen < 5 || nlen - 4 >= EK_FO_NPZ_NAME) {
            snprintf(err, err_len, "%s: too many or oddly named members", path);
            return -1;
        }
        ek_fo_npy *a = &z->members[z->n];
        memcpy(a->name, h + 30, nlen - 4);              /* strip ".npy" */
        a->name[nlen - 4] = '\0';
        if (parse_npy(a, z->image + data, csize) != 0) {
            snprintf(err, err_len, "%s: member %s is not a .npy array numpy wrote", path, a->name);
            return -1;
        }
        z->n++;
        off = data + csize;
    }
    if (z->n == 0 || off + 4 > z->size || u32(z->image + off) != 0x02014b50u) {
        snprintf(err, err_len, "%s: not a .npz predictor file, or truncated; train one with `kiln flash-offload "
                 "train-predictor`", path);
        return -1;
    }
    return 0;
}

const ek_fo_npy *ek_fo_npz_get(const ek_fo_npz *z, const char *name)
{
    for (int i = 0; i < z->n; i++)
        if (strcmp(z->members[i].name, name) == 0)
            return &z->members[i];
    return NULL;
}

void ek_fo_npz_close(ek_fo_npz *z)
{
    free(z->image);
    z->image = NULL;
    z->n = 0;
}
