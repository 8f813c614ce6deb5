/* ek_insn_count.c - QEMU 7.2 TCG plugin: instructions executed per vCPU inside the
 * inference, i.e. between the runtime markers ek_mark_begin() and ek_mark_end().
 *
 * Usage:  -plugin ek_insn_count.so,begin=0x...,end=0x...,out=/path/counts.txt
 *                 [,wait_begin=0x...,wait_end=0x...]
 *   (it prints nothing itself, so `-d plugin` is optional; errors go to stderr)
 *   begin/end: the ELF symbol values of ek_mark_begin / ek_mark_end, passed as they are.
 *              The plugin clears bit 0 itself (Arm M-profile symbols carry the Thumb
 *              bit; translation blocks start at the even address). Clearing it is
 *              harmless on every other ISA, whose code addresses are at least 2-aligned.
 *   wait_begin/wait_end (optional): ek_mark_wait_begin / ek_mark_wait_end, which bracket
 *              spin-waiting (barriers, joins); instructions between them are also
 *              reported apart, as `waiting`.
 *   out:       written at exit, one line per completed interval:
 *                  <vcpu_index> <inference> <instructions> <waiting>
 *              <inference> numbers vCPU 0's intervals 1, 2, ...; another vCPU's interval
 *              (a cluster core running a job) carries the number current when it began.
 *              grouped by vCPU in ascending index, chronological within a vCPU (so the
 *              file is deterministic even under multi-threaded TCG), then per vCPU
 *                  total <vcpu_index> <sum of its intervals>
 *              (a total line for every vCPU that completed at least one interval).
 *              In user mode (qemu-aarch64) a vCPU is a guest thread, and QEMU reuses
 *              the index of a thread that exited for the next one created.
 *
 * What is counted, per vCPU: the instructions of every translation block (TB) executed
 * from the TB at `begin` (included: the marker's own body, e.g. one `bx lr`) up to the TB
 * at `end` (excluded), callees included. The marker is a real call, so a TB always starts
 * at its entry. A TB counts all its instructions when it starts, which is exact unless an
 * exception leaves a TB part-way (faults, semihosting traps); none happen inside an
 * inference. A `begin` seen while already inside an interval restarts it; an `end`
 * outside an interval is ignored.
 *
 * The plugin header is not packaged by Debian, so the few API types and functions used
 * are declared here, matching QEMU 7.2's include/qemu/qemu-plugin.h (API version 1).
 * Build: gcc -shared -fPIC -O2 (no glib needed). */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU 7.2 plugin API subset ------------------------------------------------- */
#define EK_EXPORT __attribute__((visibility("default")))
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t {
    const char *target_name;
    struct { int min; int cur; } version;
    bool system_emulation;
    union { struct { int smp_vcpus; int max_vcpus; } system; };
} qemu_info_t;
struct qemu_plugin_tb;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS,
                            QEMU_PLUGIN_CB_RW_REGS };
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id,
                                               struct qemu_plugin_tb *tb);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
                                          qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb,
                                    void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
EK_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                  int argc, char **argv);

/* QEMU 7.2 accepts plugins declaring versions 0..1; API version 2 arrived with 9.0. */
EK_EXPORT int qemu_plugin_version = 1;

/* ---- state ------------------------------------------------------------------------ */
#define EK_MAX_VCPUS 64
enum { TB_PLAIN = 0, TB_BEGIN = 1, TB_END = 2, TB_WAIT_BEGIN = 3, TB_WAIT_END = 4 };
#define KIND_BITS 3u

/* Only vCPU i's own thread touches slot i while running; the interval list is guarded
 * by a lock because the exit handler may read it while other vCPU threads still run. */
typedef struct {
    uint64_t count;                     /* instructions in the open interval */
    uint64_t waiting;                   /* of which inside ek_mark_wait_begin..end */
    uint64_t tag;                       /* inference the open interval belongs to */
    bool active, in_wait;
    uint64_t *intervals;                /* completed intervals, chronological: triples */
    size_t n, cap;                      /* (tag, count, waiting), n counts triples */
} vcpu_state;

static vcpu_state vcpus[EK_MAX_VCPUS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t begin_pc, end_pc;
static uint64_t wait_begin_pc = UINT64_MAX, wait_end_pc = UINT64_MAX; /* optional */
static char *out_path;
/* Inference number: bumped when vCPU 0 (the core running the harness) enters ek_mark_begin.
 * Cluster cores call the markers around each job they run; their intervals carry the
 * number current at their begin, so the runner can group a parallel inference's work. */
static uint64_t inference_tag;

static void record(vcpu_state *s, uint64_t tag, uint64_t value, uint64_t waiting)
{
    pthread_mutex_lock(&lock);
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        uint64_t *p = realloc(s->intervals, 3 * cap * sizeof *p);
        if (!p) {                       /* drop it: the runner sees an interval missing */
            pthread_mutex_unlock(&lock);
            return;
        }
        s->intervals = p;
        s->cap = cap;
    }
    s->intervals[3 * s->n] = tag;
    s->intervals[3 * s->n + 1] = value;
    s->intervals[3 * s->n + 2] = waiting;
    s->n++;
    pthread_mutex_unlock(&lock);
}

/* userdata packs (TB instruction count << KIND_BITS) | TB kind, so no allocation per TB.
 * Between the wait markers (a barrier's spin loop) instructions also go to `waiting`, so
 * the runner can report the critical path: instructions minus waiting. */
static void on_tb_exec(unsigned int vcpu_index, void *udata)
{
    if (vcpu_index >= EK_MAX_VCPUS)
        return;
    vcpu_state *s = &vcpus[vcpu_index];
    uintptr_t u = (uintptr_t)udata;
    unsigned kind = (unsigned)(u & ((1u << KIND_BITS) - 1u));
    if (kind == TB_BEGIN) {
        s->tag = vcpu_index == 0 ? __atomic_add_fetch(&inference_tag, 1, __ATOMIC_SEQ_CST)
                                 : __atomic_load_n(&inference_tag, __ATOMIC_SEQ_CST);
        s->active = true;
        s->in_wait = false;
        s->count = 0;
        s->waiting = 0;
    } else if (kind == TB_END && s->active) {
        s->active = false;
        record(s, s->tag, s->count, s->waiting);
    } else if (kind == TB_WAIT_BEGIN) {
        s->in_wait = true;
    } else if (kind == TB_WAIT_END) {
        s->in_wait = false;
    }
    if (s->active) {
        s->count += u >> KIND_BITS;
        if (s->in_wait)
            s->waiting += u >> KIND_BITS;
    }
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    uint64_t pc = qemu_plugin_tb_vaddr(tb);
    uintptr_t kind = pc == begin_pc ? TB_BEGIN : pc == end_pc ? TB_END
                   : pc == wait_begin_pc ? TB_WAIT_BEGIN : pc == wait_end_pc ? TB_WAIT_END : TB_PLAIN;
    uintptr_t u = ((uintptr_t)qemu_plugin_tb_n_insns(tb) << KIND_BITS) | kind;
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb_exec, QEMU_PLUGIN_CB_NO_REGS,
                                         (void *)u);
}

static void on_atexit(qemu_plugin_id_t id, void *udata)
{
    (void)id; (void)udata;
    FILE *f = fopen(out_path, "w");
    if (!f) {
        fprintf(stderr, "ek_insn_count: cannot write %s\n", out_path);
        return;
    }
    pthread_mutex_lock(&lock);
    for (unsigned v = 0; v < EK_MAX_VCPUS; v++)
        for (size_t i = 0; i < vcpus[v].n; i++)
            fprintf(f, "%u %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", v, vcpus[v].intervals[3 * i],
                    vcpus[v].intervals[3 * i + 1], vcpus[v].intervals[3 * i + 2]);
    for (unsigned v = 0; v < EK_MAX_VCPUS; v++) {
        if (!vcpus[v].n)
            continue;
        uint64_t sum = 0;
        for (size_t i = 0; i < vcpus[v].n; i++)
            sum += vcpus[v].intervals[3 * i + 1];
        fprintf(f, "total %u %" PRIu64 "\n", v, sum);
    }
    pthread_mutex_unlock(&lock);
    fclose(f);
}

static bool parse_addr(const char *s, uint64_t *out)
{
    char *end;
    *out = strtoull(s, &end, 0);
    return *s && !*end;
}

EK_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                  int argc, char **argv)
{
    bool have_begin = false, have_end = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "begin=", 6))
            have_begin = parse_addr(a + 6, &begin_pc);
        else if (!strncmp(a, "end=", 4))
            have_end = parse_addr(a + 4, &end_pc);
        else if (!strncmp(a, "wait_begin=", 11))
            parse_addr(a + 11, &wait_begin_pc);
        else if (!strncmp(a, "wait_end=", 9))
            parse_addr(a + 9, &wait_end_pc);
        else if (!strncmp(a, "out=", 4))
            out_path = strdup(a + 4);
        else {
            fprintf(stderr, "ek_insn_count: unknown argument '%s'\n", a);
            return -1;
        }
    }
    if (!have_begin || !have_end || !out_path || !*out_path) {
        fprintf(stderr, "ek_insn_count: needs begin=0x.. end=0x.. out=FILE\n");
        return -1;
    }
    if (info->system_emulation && info->system.max_vcpus > EK_MAX_VCPUS) {
        fprintf(stderr, "ek_insn_count: at most %d vCPUs\n", EK_MAX_VCPUS);
        return -1;
    }
    /* Fail now rather than at exit if the file cannot be written. Not kept open: in
     * user mode the guest shares the process's file descriptors. */
    FILE *probe = fopen(out_path, "w");
    if (!probe) {
        fprintf(stderr, "ek_insn_count: cannot write %s\n", out_path);
        return -1;
    }
    fclose(probe);
    begin_pc &= ~(uint64_t)1;           /* Thumb bit: see the header comment */
    end_pc &= ~(uint64_t)1;
    wait_begin_pc &= ~(uint64_t)1;
    wait_end_pc &= ~(uint64_t)1;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_atexit_cb(id, on_atexit, NULL);
    return 0;
}
