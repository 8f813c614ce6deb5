/* ek_fo_main.c - command line of the flash-offload C runtime.
 *
 *   ekfo MODEL.ekf [--mode naive|hybrid|predictor|window] [--predictor P.npz] [--budget BYTES]
 *        [--window K] [--static N] [--cache-rows N] [--staging-bytes B] [--gap-bytes B] [--direct]
 *        [--threads N]
 *        (--prompt TEXT | --prompt-hex HEX) [--tokens N] [--no-verify] [--check-cache]
 *
 * Output (stdout, parsed by flash_offload/c_runner.py), one line per position:
 *   ekfo-begin key=value...       model shape, mode, DRAM use
 *   ekfo-token pos=.. kind=prompt|gen in=.. next=.. margin=.. bytes=.. reads=.. loaded=.. ...
 *   ekfo-end key=value...         totals
 * Errors: one line "ekfo: error: ..." on stderr and exit status 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ek_fo_engine.h"
#include "ek_fo_predictor_file.h"

#define MAX_PROMPT 65536

static int die(const char *msg)
{
    fprintf(stderr, "ekfo: error: %s\n", msg);
    return 2;
}

static int usage(const char *msg)
{
    fprintf(stderr, "ekfo: error: %s\nusage: ekfo MODEL.ekf [--mode naive|hybrid|predictor|window] "
            "[--predictor P.npz] [--budget BYTES] [--window K] [--static N] [--cache-rows N] [--staging-bytes B] "
            "[--gap-bytes B] [--direct] [--threads N] "
            "(--prompt TEXT | --prompt-hex HEX) [--tokens N] [--no-verify] [--check-cache]\n", msg);
    return 2;
}

static int parse_hex(const char *s, int *out, int max)
{
    int n = 0;
    size_t len = strlen(s);
    if (len % 2 != 0)
        return -1;
    for (size_t i = 0; i < len; i += 2) {
        unsigned v;
        char byte[3] = {s[i], s[i + 1], 0};
        if (n >= max || sscanf(byte, "%2x", &v) != 1 || strspn(byte, "0123456789abcdefABCDEF") != 2)
            return -1;
        out[n++] = (int)v;
    }
    return n;
}

static int is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

static void print_counters(const ek_fo_counters *c)
{
    printf(" bytes=%llu reads=%llu loaded=%llu predicted=%llu used=%llu active=%llu hits=%llu evicted=%llu "
           "dropped=%llu bridged=%llu io_bytes=%llu io_ns=%llu mm_ns=%llu total_ns=%llu",
           (unsigned long long)c->bytes_read, (unsigned long long)c->reads, (unsigned long long)c->neurons_loaded,
           (unsigned long long)c->neurons_predicted,
           (unsigned long long)c->neurons_used, (unsigned long long)c->neurons_active,
           (unsigned long long)c->cache_hits, (unsigned long long)c->evicted, (unsigned long long)c->dropped,
           (unsigned long long)c->bridged, (unsigned long long)c->io_bytes, (unsigned long long)c->io_ns,
           (unsigned long long)c->mm_ns, (unsigned long long)c->total_ns);
}

static void add(ek_fo_counters *t, const ek_fo_counters *c)
{
    t->bytes_read += c->bytes_read; t->reads += c->reads; t->neurons_loaded += c->neurons_loaded;
    t->neurons_predicted += c->neurons_predicted; t->neurons_used += c->neurons_used;
    t->neurons_active += c->neurons_active; t->cache_hits += c->cache_hits; t->evicted += c->evicted;
    t->dropped += c->dropped; t->bridged += c->bridged; t->io_bytes += c->io_bytes; t->io_ns += c->io_ns;
    t->mm_ns += c->mm_ns;
    t->total_ns += c->total_ns;
}

int main(int argc, char **argv)
{
    static int prompt[MAX_PROMPT];
    const char *model_path = NULL, *pred_path = NULL;
    ek_fo_options opt = {EK_FO_NAIVE, 4, 0, 0, -1, -1, 0, 1};
    int n_prompt = -1, n_tokens = 16, verify = 1, check_cache = 0, direct = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!is_little_endian())
        return die("this runtime reads little-endian float32 files on little-endian machines only");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(a, "--mode") == 0 && v) {
            if (strcmp(v, "naive") == 0) opt.mode = EK_FO_NAIVE;
            else if (strcmp(v, "hybrid") == 0) opt.mode = EK_FO_HYBRID;
            else if (strcmp(v, "predictor") == 0) opt.mode = EK_FO_PREDICTOR;
            else if (strcmp(v, "window") == 0) opt.mode = EK_FO_WINDOW;
            else return usage("--mode must be naive, hybrid, predictor or window");
        } else if (strcmp(a, "--predictor") == 0 && v) {
            pred_path = v;
        } else if (strcmp(a, "--budget") == 0 && v) {
            opt.budget = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--threads") == 0 && v) {
            opt.threads = atoi(v);
            if (opt.threads < 1 || opt.threads > 64)
                return usage("--threads must be 1..64");
        } else if (strcmp(a, "--gap-bytes") == 0 && v) {
            opt.gap_bytes = (size_t)strtoull(v, NULL, 10);
        } else if (strcmp(a, "--staging-bytes") == 0 && v) {
            opt.staging_cap_bytes = (size_t)strtoull(v, NULL, 10);
        } else if (strcmp(a, "--window") == 0 && v) {
            opt.window_k = atoi(v);
            if (opt.window_k < 0)
                return usage("--window must be 0 or more");
        } else if (strcmp(a, "--static") == 0 && v) {
            opt.static_rows = atoi(v);
            if (opt.static_rows < 0)
                return usage("--static must be 0 or more");
        } else if (strcmp(a, "--cache-rows") == 0 && v) {
            opt.cache_rows = atoi(v);
            if (opt.cache_rows < 0)
                return usage("--cache-rows must be 0 or more");
        } else if (strcmp(a, "--tokens") == 0 && v) {
            n_tokens = atoi(v);
            if (n_tokens < 1)
                return usage("--tokens must be at least 1");
        } else if (strcmp(a, "--prompt") == 0 && v) {
            n_prompt = 0;
            for (const char *p = v; *p && n_prompt < MAX_PROMPT; p++)
                prompt[n_prompt++] = (unsigned char)*p;
        } else if (strcmp(a, "--prompt-hex") == 0 && v) {
            n_prompt = parse_hex(v, prompt, MAX_PROMPT);
            if (n_prompt < 0)
                return usage("--prompt-hex must be an even number of hex digits (the prompt's bytes)");
        } else if (strcmp(a, "--no-verify") == 0) {
            verify = 0;
            takes = 0;
        } else if (strcmp(a, "--direct") == 0) {
            direct = 1;
            takes = 0;
        } else if (strcmp(a, "--check-cache") == 0) {
            check_cache = 1;
            takes = 0;
        } else if (a[0] != '-' && !model_path) {
            model_path = a;
            takes = 0;
        } else {
            return usage("unknown or incomplete argument");
        }
        i += takes;
    }
    if (!model_path)
        return usage("no model file given");
    if (n_prompt <= 0)
        return usage("give a non-empty --prompt or --prompt-hex");

    ek_fo_file file;
    if (ek_fo_open(&file, model_path) != 0)
        return die(file.err);
    const ek_fo_model *m = &file.model;
    if (n_prompt + n_tokens - 1 > m->T) {
        char msg[200];
        snprintf(msg, sizeof msg, "prompt (%d tokens) + %d generated tokens exceed the model's context of %d; "
                 "shorten the prompt or lower --tokens", n_prompt, n_tokens, m->T);
        return die(msg);
    }
    ek_fo_predictor pred;
    int have_pred = 0;
    if (pred_path) {
        char perr[EK_FO_ERR_BYTES];
        if (ek_fo_predictor_load(&pred, pred_path, &file, perr, sizeof perr) != 0)
            return die(perr);
        have_pred = 1;
    }
    /* Check every neuron section before the engine reads static neurons from them. */
    if (verify) {
        static unsigned char chunk[1 << 16];
        if (ek_fo_verify_neurons(&file, chunk, sizeof chunk) != 0)
            return die(file.err);
    }
    if (direct && ek_fo_enable_direct(&file) != 0) {
        fprintf(stderr, "ekfo: warning: %s; reading through the page cache\n", file.err);
        file.err[0] = '\0';
    }
    ek_fo_engine e;
    if (ek_fo_engine_init(&e, &file, have_pred ? &pred : NULL, &opt) != 0)
        return die(e.err);

    static const char *modes[] = {"naive", "hybrid", "predictor", "window"};
    printf("ekfo-begin mode=%s layers=%d d_model=%d d_ff=%d heads=%d vocab=%d context=%d bundle_bytes=%llu "
           "resident_bytes=%llu dram_bytes=%llu static_bytes=%llu cache_bytes=%llu budget=%llu static_rows=%d "
           "cache_rows=%d staging_bundles=%d window=%d direct=%d threads=%d prompt=%d tokens=%d\n",
           modes[opt.mode], m->L, m->d, m->f, m->h, m->V, m->T, (unsigned long long)file.bundle_stride,
           (unsigned long long)file.resident_bytes, (unsigned long long)e.dram_bytes,
           (unsigned long long)e.static_bytes, (unsigned long long)e.cache_bytes, (unsigned long long)opt.budget,
           e.static_rows, e.cache_rows, e.staging_bundles, e.opt.window_k, file.dfd >= 0, e.io.threads, n_prompt,
           n_tokens);

    ek_fo_counters c, total;
    memset(&total, 0, sizeof total);
    int tok = prompt[0], generated = 0, pos = 0;
    for (; generated < n_tokens; pos++) {
        float margin;
        int next = ek_fo_engine_step(&e, tok, pos, &c, &margin);
        if (next < 0)
            return die(e.err);
        if (check_cache && e.caches)
            for (int l = 0; l < m->L; l++)
                if (ek_fo_cache_check(&e.caches[l]) != 0)
                    return die("window cache invariant broken (internal error)");
        int is_gen = pos >= n_prompt - 1;
        printf("ekfo-token pos=%d kind=%s in=%d next=%d margin=%.9g", pos, is_gen ? "gen" : "prompt", tok, next,
               (double)margin);
        print_counters(&c);
        printf("\n");
        add(&total, &c);
        if (is_gen) {
            generated++;
            tok = next;
        } else {
            tok = prompt[pos + 1];
        }
    }
    printf("ekfo-end positions=%d generated=%d", pos, generated);
    print_counters(&total);
    printf("\n");
    ek_fo_engine_free(&e);
    if (have_pred)
        ek_fo_predictor_free(&pred);
    ek_fo_close(&file);
    return 0;
}
