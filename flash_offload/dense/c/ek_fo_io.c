/* ek_fo_io.c - read pool: jobs are handed out one at a time under a mutex; a failed read is
 * repeated by the calling thread afterwards so the error message comes from one place. */
#define _POSIX_C_SOURCE 200809L
#include "ek_fo_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t ek_fo_io_bytes(int threads, size_t bounce_bytes)
{
    return bounce_bytes ? (size_t)threads * bounce_bytes + EK_FO_ALIGN : 0;
}

/* One job without touching shared state; 0 or -1. */
static int do_job(ek_fo_io_worker *w, const ek_fo_read *j)
{
    ek_fo_file *f = w->io->file;
    if (f->dfd < 0) {
        size_t done = 0;
        while (done < j->n) {
            ssize_t r = pread(f->fd, j->dst + done, j->n - done, (off_t)(j->off + done));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return -1;
            done += (size_t)r;
        }
        w->dev_bytes += j->n;
        return 0;
    }
    uint64_t off = j->off;
    size_t n = j->n, bb = w->io->bounce_bytes;
    unsigned char *dst = j->dst;
    while (n > 0) {
        uint64_t lo = off / EK_FO_ALIGN * EK_FO_ALIGN;
        size_t skip = (size_t)(off - lo), take = bb - skip < n ? bb - skip : n;
        size_t span = (skip + take + EK_FO_ALIGN - 1) / EK_FO_ALIGN * EK_FO_ALIGN, got = 0;
        while (got < skip + take) {
            ssize_t r = pread(f->dfd, w->bounce + got, span - got, (off_t)(lo + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return -1;
            got += (size_t)r;
        }
        memcpy(dst, w->bounce + skip, take);
        w->dev_bytes += got;
        dst += take;
        off += take;
        n -= take;
    }
    return 0;
}

/* Takes jobs until none is left; the last one out wakes the caller. */
static void drain(ek_fo_io_worker *w)
{
    ek_fo_io *io = w->io;
    for (;;) {
        pthread_mutex_lock(&io->mu);
        int k = io->next < io->n_jobs ? io->next++ : -1;
        pthread_mutex_unlock(&io->mu);
        if (k < 0)
            return;
        if (do_job(w, &io->jobs[k]) != 0) {
            pthread_mutex_lock(&io->mu);
            if (io->failed_job < 0)
                io->failed_job = k;
            pthread_mutex_unlock(&io->mu);
        }
    }
}

static void *worker_main(void *arg)
{
    ek_fo_io_worker *w = arg;
    ek_fo_io *io = w->io;
    int seen = 0;
    for (;;) {
        pthread_mutex_lock(&io->mu);
        while (io->generation == seen && !io->stop)
            pthread_cond_wait(&io->go, &io->mu);
        if (io->stop) {
            pthread_mutex_unlock(&io->mu);
            return NULL;
        }
        seen = io->generation;
        pthread_mutex_unlock(&io->mu);
        drain(w);
        pthread_mutex_lock(&io->mu);
        if (--io->running == 0)
            pthread_cond_signal(&io->done);
        pthread_mutex_unlock(&io->mu);
    }
}

int ek_fo_io_init(ek_fo_io *io, ek_fo_file *f, int threads, size_t bounce_bytes)
{
    memset(io, 0, sizeof *io);
    io->file = f;
    io->threads = threads < 1 ? 1 : threads;
    io->bounce_bytes = bounce_bytes;
    io->failed_job = -1;
    io->workers = calloc((size_t)io->threads, sizeof *io->workers);
    io->tids = calloc((size_t)io->threads, sizeof *io->tids);
    if (!io->workers || !io->tids)
        return -1;
    if (bounce_bytes) {
        io->bounce_mem = malloc(ek_fo_io_bytes(io->threads, bounce_bytes));
        if (!io->bounce_mem)
            return -1;
    }
    unsigned char *base = io->bounce_mem
                              ? io->bounce_mem + (EK_FO_ALIGN - (uintptr_t)io->bounce_mem % EK_FO_ALIGN) % EK_FO_ALIGN
                              : NULL;
    for (int t = 0; t < io->threads; t++) {
        io->workers[t].io = io;
        io->workers[t].index = t;
        io->workers[t].bounce = base ? base + (size_t)t * bounce_bytes : NULL;
    }
    if (pthread_mutex_init(&io->mu, NULL) || pthread_cond_init(&io->go, NULL) || pthread_cond_init(&io->done, NULL))
        return -1;
    io->ready = 1;
    for (int t = 1; t < io->threads; t++)
        if (pthread_create(&io->tids[t], NULL, worker_main, &io->workers[t]) != 0) {
            io->threads = t;    /* fewer threads than asked; still correct */
            break;
        }
    return 0;
}

int ek_fo_io_run(ek_fo_io *io, const ek_fo_read *jobs, int n_jobs, uint64_t *dev_bytes)
{
    ek_fo_io_worker *me = &io->workers[0];
    for (int t = 0; t < io->threads; t++)
        io->workers[t].dev_bytes = 0;
    pthread_mutex_lock(&io->mu);
    io->jobs = jobs;
    io->n_jobs = n_jobs;
    io->next = 0;
    io->failed_job = -1;
    int helpers = io->threads > 1 && n_jobs > 1 ? io->threads - 1 : 0;
    io->running = helpers;
    if (helpers) {
        io->generation++;
        pthread_cond_broadcast(&io->go);
    }
    pthread_mutex_unlock(&io->mu);
    drain(me);
    pthread_mutex_lock(&io->mu);
    while (io->running > 0)
        pthread_cond_wait(&io->done, &io->mu);
    int failed = io->failed_job;
    pthread_mutex_unlock(&io->mu);
    for (int t = 0; t < io->threads; t++)
        *dev_bytes += io->workers[t].dev_bytes;
    if (failed >= 0) {              /* repeat it here: the error message names the cause */
        const ek_fo_read *j = &jobs[failed];
        uint64_t ignored = 0;
        int rc = io->file->dfd >= 0
                     ? ek_fo_pread_direct(io->file, j->dst, j->n, j->off, me->bounce, io->bounce_bytes, &ignored)
                     : ek_fo_pread(io->file, j->dst, j->n, j->off);
        if (rc != 0)
            return -1;
    }
    return 0;
}

void ek_fo_io_free(ek_fo_io *io)
{
    if (io->ready) {
        pthread_mutex_lock(&io->mu);
        io->stop = 1;
        pthread_cond_broadcast(&io->go);
        pthread_mutex_unlock(&io->mu);
        for (int t = 1; t < io->threads; t++)
            pthread_join(io->tids[t], NULL);
        pthread_mutex_destroy(&io->mu);
        pthread_cond_destroy(&io->go);
        pthread_cond_destroy(&io->done);
    }
    free(io->workers); free(io->tids); free(io->bounce_mem);
    memset(io, 0, sizeof *io);
}
