/* ek_fo_npz.h - reader of uncompressed .npz files (numpy.savez: a zip of .npy members,
 * stored, with zip64 extra fields), enough for predictor files: little-endian float32
 * C-order arrays and a 0-d unicode string. Member crc32s are checked. */
#ifndef EK_FO_NPZ_H
#define EK_FO_NPZ_H

#include <stddef.h>
#include <stdint.h>

#define EK_FO_NPZ_MAX_MEMBERS 1024
#define EK_FO_NPZ_NAME 64

typedef struct {
    char name[EK_FO_NPZ_NAME];   /* without ".npy" */
    char descr[16];             /* "<f4", "<U22"... */
    int ndim;
    int64_t shape[4];
    const unsigned char *data;  /* array bytes inside the file image */
    uint64_t nbytes;
} ek_fo_npy;

typedef struct {
    unsigned char *image;       /* the whole file */
    uint64_t size;
    int n;
    ek_fo_npy members[EK_FO_NPZ_MAX_MEMBERS];
} ek_fo_npz;

/* Reads the file and indexes its members; -1 with err set. */
int ek_fo_npz_open(ek_fo_npz *z, const char *path, char *err, size_t err_len);
const ek_fo_npy *ek_fo_npz_get(const ek_fo_npz *z, const char *name);
void ek_fo_npz_close(ek_fo_npz *z);

#endif
