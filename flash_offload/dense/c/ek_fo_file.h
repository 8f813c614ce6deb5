/* ek_fo_file.h - reader of the EKF bundled weight file (docs/flash_offload_format.md):
 * fixed header, binary section table (the C view), JSON metadata (for the config only),
 * crc32 per section. Errors are returned as messages naming the file and what to do. */
#ifndef EK_FO_FILE_H
#define EK_FO_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "ek_fo_model.h"

#define EK_FO_NAME_BYTES 64
#define EK_FO_ALIGN 4096
#define EK_FO_ERR_BYTES 512

enum {
    EK_FO_K_RESIDENT = 0, EK_FO_K_BUNDLED = 1, EK_FO_K_SPLIT_UP = 2, EK_FO_K_SPLIT_DOWN = 3, EK_FO_K_SPLIT_B_UP = 4
};

typedef struct {
    char name[EK_FO_NAME_BYTES];
    uint32_t kind, layer, ndim, dims[4], crc32;
    uint64_t offset, nbytes, stride;
} ek_fo_section;

typedef struct {
    const char *path;
    int fd;
    int dfd;                    /* O_DIRECT descriptor, or -1 (ek_fo_enable_direct) */
    uint64_t file_size, data_start;
    uint32_t n_sections;
    ek_fo_section *sections;
    char *json;                 /* JSON metadata, NUL-terminated */
    char model_hash[72];        /* sha256 hex of the model (predictors must carry the same) */
    uint32_t json_len;
    float *resident;            /* one block holding every resident tensor */
    uint64_t resident_bytes;
    const ek_fo_section **bundled;   /* per layer */
    uint64_t bundle_stride;     /* bytes per bundle */
    ek_fo_model model;
    char err[EK_FO_ERR_BYTES];
} ek_fo_file;

/* Opens the file, checks magic/version/size/header crc, loads and checks the resident
 * tensors. Returns 0, or -1 with f->err set. */
int ek_fo_open(ek_fo_file *f, const char *path);
/* Reads every bundled section once and checks its crc32 (staging: any buffer of
 * staging_bytes >= one bundle). */
int ek_fo_verify_neurons(ek_fo_file *f, void *staging, size_t staging_bytes);
/* pread of n bytes at off, looping over short reads; -1 with f->err on error/EOF. */
int ek_fo_pread(ek_fo_file *f, void *buf, size_t n, uint64_t off);
/* Opens the file a second time with O_DIRECT (cold reads that bypass the page cache).
 * Returns 0, or -1 with the reason in f->err (the caller warns and keeps buffered reads). */
int ek_fo_enable_direct(ek_fo_file *f);
/* The same read through the O_DIRECT descriptor: 4 KiB-aligned spans into bounce
 * (aligned, bounce_bytes a multiple of 4096 above 4096), copied to buf; *dev_bytes grows by
 * the bytes the device transferred. */
int ek_fo_pread_direct(ek_fo_file *f, void *buf, size_t n, uint64_t off, unsigned char *bounce,
                       size_t bounce_bytes, uint64_t *dev_bytes);
void ek_fo_close(ek_fo_file *f);

/* The section named name, or NULL. */
const ek_fo_section *ek_fo_find(const ek_fo_file *f, const char *name);

#endif
