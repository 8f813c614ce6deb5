/* ek_fo_npz.h - reader of uncompressed .npz files (numpy.savez: a zip of .npy members,
 * stored, with zip64 extra fields), enough for predictor files: little-endian float32
 * C-order arrays and a 0-d unicode string. Member crc32s are checked. */
#ifndef EK_FO_NPZ_H
#define EK_FO_NPZ_H

#include <stddef.h>
#include <stdint.h>

#define EKFO_NPZ_MAX_MEMBERS 1024
#define EKFO_NPZ_NAME 64

typedef struct {
    char name[EKFO_NPZ_NAME];   /* without ".npy" */
    char descr[16];             /* "<f4", "<U22"... */
    int ndim;
    int64_t shape[4];
    const unsigned char *data;  /* array bytes inside the file image */
    uint64_t nbytes;
} ekfo_npy;

typedef struct {
    unsigned char *image;       /* the whole file */
    uint64_t size;
    int n;
    ekfo_npy members[EKFO_NPZ_MAX_MEMBERS];
} ekfo_npz;

/* Reads the file and indexes its members; -1 with err set. */
int ekfo_npz_open(ekfo_npz *z, const char *path, char *err, size_t err_len);
const ekfo_npy *ekfo_npz_get(const ekfo_npz *z, const char *name);
void ekfo_npz_close(ekfo_npz *z);

#endif
