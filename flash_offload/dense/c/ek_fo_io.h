/* ek_fo_io.h - batches of positional reads from the EKF file, spread over a small pool of
 * POSIX threads (the calling thread works too). Threads and their O_DIRECT bounce buffers
 * are created once; a batch allocates nothing. */
#ifndef EK_FO_IO_H
#define EK_FO_IO_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ek_fo_file.h"

typedef struct {
    uint64_t off;
    size_t n;
    unsigned char *dst;
} ek_fo_read;

typedef struct ek_fo_io ek_fo_io;

typedef struct {
    ek_fo_io *io;
    int index;                  /* 0: the calling thread */
    unsigned char *bounce;      /* O_DIRECT: aligned, bounce_bytes */
    uint64_t dev_bytes;
} ek_fo_io_worker;

struct ek_fo_io {
    ek_fo_file *file;
    int threads;
    size_t bounce_bytes;        /* 0 without O_DIRECT */
    unsigned char *bounce_mem;
    ek_fo_io_worker *workers;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    const ek_fo_read *jobs;
    int n_jobs, next, running, generation, stop, failed_job, ready;
};

/* bounce_bytes: per-thread O_DIRECT buffer (0 when the file has no O_DIRECT descriptor). */
int ek_fo_io_init(ek_fo_io *io, ek_fo_file *f, int threads, size_t bounce_bytes);
/* Reads every job; 0, or -1 with the file's error message (f->err). *dev_bytes grows by the
 * bytes the device transferred. */
int ek_fo_io_run(ek_fo_io *io, const ek_fo_read *jobs, int n_jobs, uint64_t *dev_bytes);
void ek_fo_io_free(ek_fo_io *io);
/* DRAM the pool holds (bounce buffers). */
size_t ek_fo_io_bytes(int threads, size_t bounce_bytes);

#endif
