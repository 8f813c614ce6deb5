/* ek_energyrunner.c - the EnergyRunner / MLPerf Tiny text protocol parser (ek_energyrunner.h).
 * No C library beyond memcpy/memset-free loops: words are split and numbers read here. */
#include "ek_energyrunner.h"
#include "ek_link.h" /* ek_crc32 */

#define MAX_WORDS 4u

/* Microseconds where the port has a clock (ports override this weak default). */
__attribute__((weak)) uint32_t ek_port_micros(void)
{
    return 0u;
}

void ek_er_puts(const ek_er_t *er, const char *s)
{
    while (*s != '\0') er->app->put(*s++);
}

void ek_er_put_u32(const ek_er_t *er, uint32_t v)
{
    char d[10];
    uint32_t n = 0;
    do {
        d[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    while (n > 0u) er->app->put(d[--n]);
}

void ek_er_put_hex32(const ek_er_t *er, uint32_t v, uint32_t digits)
{
    static const char hex[] = "0123456789abcdef";
    for (uint32_t i = digits; i > 0u; i--) er->app->put(hex[(v >> (4u * (i - 1u))) & 0xFu]);
}

/* Six decimal places below 1e9, else d.dddddde+XX; the bits line is the exact one. */
void ek_er_put_float(const ek_er_t *er, float v)
{
    if (v != v) {
        ek_er_puts(er, "nan");
        return;
    }
    double d = (double)v;
    if (d < 0.0) {
        er->app->put('-');
        d = -d;
    }
    if (d > 3.5e38) {
        ek_er_puts(er, "inf");
        return;
    }
    int32_t exp10 = 0;
    if (d >= 1e9) {
        while (d >= 10.0) {
            d /= 10.0;
            exp10++;
        }
    }
    uint32_t ip = (uint32_t)d;
    uint32_t frac = (uint32_t)((d - (double)ip) * 1e6 + 0.5);
    if (frac >= 1000000u) {
        ip++;
        frac -= 1000000u;
    }
    ek_er_put_u32(er, ip);
    er->app->put('.');
    for (uint32_t div = 100000u; div > 0u; div /= 10u) er->app->put((char)('0' + (frac / div) % 10u));
    if (exp10 != 0) {
        ek_er_puts(er, "e+");
        ek_er_put_u32(er, (uint32_t)exp10);
    }
}

void ek_er_results(const ek_er_t *er, int32_t label, const float *out, uint32_t n)
{
    ek_er_puts(er, "m-results-[");
    for (uint32_t k = 0; k < n; k++) {
        if (k) er->app->put(',');
        ek_er_put_float(er, out[k]);
    }
    ek_er_puts(er, "]\r\nm-results-bits-[");
    for (uint32_t k = 0; k < n; k++) {
        union {
            float f;
            uint32_t u;
        } bits;
        bits.f = out[k];
        if (k) er->app->put(',');
        ek_er_put_hex32(er, bits.u, 8u);
    }
    ek_er_puts(er, "]\r\nm-label-[");
    if (label < 0) {
        er->app->put('-');
        ek_er_put_u32(er, 0u - (uint32_t)label);
    } else {
        ek_er_put_u32(er, (uint32_t)label);
    }
    ek_er_puts(er, "]\r\n");
}

static void er_error(ek_er_t *er, const char *text)
{
    er->errors++;
    ek_er_puts(er, "e-[");
    ek_er_puts(er, text);
    ek_er_puts(er, "]\r\n");
}

static uint32_t now_us(const ek_er_t *er)
{
    return er->app->micros ? er->app->micros() : 0u;
}

static void lap(const ek_er_t *er)
{
    ek_er_puts(er, "m-lap-us-");
    ek_er_put_u32(er, now_us(er));
    ek_er_puts(er, "\r\n");
}

void ek_er_init(ek_er_t *er, const ek_er_app_t *app, uint8_t *db, uint32_t db_cap)
{
    er->app = app;
    er->cmd_len = 0;
    er->cmd_overflow = 0;
    er->have_result = 0;
    er->db = db;
    er->db_cap = db_cap;
    er->db_size = 0;
    er->db_pos = 0;
    er->commands = er->errors = er->inferences = 0;
}

static void ready(const ek_er_t *er)
{
    ek_er_puts(er, "m-ready\r\n");
    if (er->app->flush) er->app->flush();
}

void ek_er_boot(ek_er_t *er)
{
    ek_er_puts(er, "m-timestamp-mode-performance\r\n");
    lap(er);
    ek_er_puts(er, "m-init-done\r\n");
    ready(er);
}

static int is_space(char c)
{
    return c == ' ' || c == '\r' || c == '\n' || c == '\t';
}

static int same(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* A decimal number of at most 9 digits; -1 for anything else. */
static int32_t number(const char *s)
{
    int32_t v = 0;
    uint32_t n = 0;
    if (*s == '\0') return -1;
    for (; *s != '\0'; s++, n++) {
        if (*s < '0' || *s > '9' || n >= 9u) return -1;
        v = v * 10 + (int32_t)(*s - '0');
    }
    return v;
}

static int32_t hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void db_print(ek_er_t *er, char **w, uint32_t nw)
{
    int32_t count = nw > 2u ? number(w[2]) : 16;
    int32_t off = nw > 3u ? number(w[3]) : 0;
    if (count < 0 || off < 0) {
        er_error(er, "db print takes [N] [offset] as decimal numbers");
        return;
    }
    uint32_t start = (uint32_t)off < er->db_size ? (uint32_t)off : er->db_size;
    uint32_t end = er->db_size - start < (uint32_t)count ? er->db_size : start + (uint32_t)count;
    for (uint32_t i = start; i < end; i++) {
        if ((i - start) % 8u == 0u) ek_er_puts(er, "m-buffer-");
        ek_er_put_hex32(er, er->db[i], 2u);
        ek_er_puts(er, ((i - start) % 8u == 7u || i + 1u == end) ? "\r\n" : "-");
    }
}

static void db(ek_er_t *er, char **w, uint32_t nw)
{
    if (nw < 2u) {
        er_error(er, "Command 'db' requires a subcommand");
        return;
    }
    if (same(w[1], "load")) {
        const int32_t n = nw > 2u ? number(w[2]) : -1;
        if (n <= 0 || (uint32_t)n > er->db_cap) {
            er_error(er, "db load N: N must be a number of bytes from 1 to the input size");
            return;
        }
        er->db_size = (uint32_t)n;
        er->db_pos = 0;
        ek_er_puts(er, "m-[Expecting ");
        ek_er_put_u32(er, er->db_size);
        ek_er_puts(er, " bytes]\r\n");
        return;
    }
    if (same(w[1], "print")) {
        db_print(er, w, nw);
        return;
    }
    if (er->db_size == 0u) {
        er_error(er, "db load N first");
        return;
    }
    const char *h = w[1];
    uint32_t len = 0;
    while (h[len] != '\0') len++;
    if (len % 2u != 0u) {
        er_error(er, "Insufficient number of hex digits");
        return;
    }
    for (uint32_t i = 0; i < len; i += 2u) {
        const int32_t hi = hex_digit(h[i]), lo = hex_digit(h[i + 1u]);
        if (hi < 0 || lo < 0) {
            er_error(er, "Invalid hex digit");
            return;
        }
    }
    for (uint32_t i = 0; i < len && er->db_pos < er->db_size; i += 2u)
        er->db[er->db_pos++] = (uint8_t)(hex_digit(h[i]) * 16 + hex_digit(h[i + 1u]));
    if (er->db_pos == er->db_size) {
        /* edgekiln's addition: the CRC-32 of the loaded bytes, so a host can check them */
        ek_er_puts(er, "m-load-done\r\nm-edgekiln-crc-[");
        ek_er_put_hex32(er, ek_crc32(er->db, er->db_size), 8u);
        ek_er_puts(er, "]\r\n");
    }
}

static void infer(ek_er_t *er, char **w, uint32_t nw)
{
    int32_t n = nw > 1u ? number(w[1]) : 1;
    int32_t warm = nw > 2u ? number(w[2]) : 10;
    if (n <= 0 || (uint32_t)n > EK_ER_MAX_ITERATIONS) {
        er_error(er, "Inference iterations must be >0 (and at most 1000000)");
        return;
    }
    if (warm < 0 || (uint32_t)warm > EK_ER_MAX_ITERATIONS) {
        er_error(er, "Inference warmup must be >=0 (and at most 1000000)");
        return;
    }
    if (er->db_size != er->app->input_bytes || er->db_pos != er->db_size) {
        er_error(er, "Load the input first: db load N with N the input size, then its hex bytes");
        return;
    }
    ek_er_puts(er, "m-warmup-start-");
    ek_er_put_u32(er, (uint32_t)warm);
    ek_er_puts(er, "\r\n");
    for (int32_t i = 0; i < warm; i++) er->app->infer(er->db);
    ek_er_puts(er, "m-warmup-done\r\nm-infer-start-");
    ek_er_put_u32(er, (uint32_t)n);
    ek_er_puts(er, "\r\n");
    lap(er);
    const uint32_t c0 = er->app->cycles ? er->app->cycles() : 0u;
    for (int32_t i = 0; i < n; i++) er->app->infer(er->db);
    const uint32_t c1 = er->app->cycles ? er->app->cycles() : 0u;
    lap(er);
    er->inferences += (uint32_t)(n + warm);
    er->have_result = 1u;
    ek_er_puts(er, "m-infer-done\r\n");
    if (er->app->cycles) {
        ek_er_puts(er, "m-edgekiln-cycles-[");
        ek_er_put_u32(er, c1 - c0);
        ek_er_puts(er, "]\r\n");
    }
    er->app->results(er);
}

static void help(const ek_er_t *er)
{
    ek_er_puts(er, er->app->firmware);
    ek_er_puts(er, "\r\nhelp         : Print this information\r\n"
                   "name         : Print the name of the device\r\n"
                   "timestamp    : Print m-lap-us-N\r\n"
                   "profile      : Firmware, model and edgekiln facts\r\n"
                   "db load N    : Expect N input bytes\r\n"
                   "db HH[HH]*   : Load hex bytes until N bytes\r\n"
                   "db print [N=16] [offset=0] : Print N bytes at offset as hex\r\n"
                   "infer N [W=10] : N timed inferences after W warm-up ones\r\n"
                   "results      : Print the last results\r\n");
}

static void run(ek_er_t *er)
{
    char *w[MAX_WORDS];
    uint32_t nw = 0;
    char *p = er->cmd;
    while (*p != '\0') {
        while (is_space(*p)) *p++ = '\0';
        if (*p == '\0') break;
        if (nw == MAX_WORDS) {
            er_error(er, "Too many arguments");
            return;
        }
        w[nw++] = p;
        while (*p != '\0' && !is_space(*p)) p++;
    }
    er->commands++;
    if (nw == 0u) {
        er_error(er, "Empty command");
    } else if (same(w[0], "name")) {
        ek_er_puts(er, "m-name-dut-[");
        ek_er_puts(er, er->app->vendor);
        ek_er_puts(er, "]\r\n");
    } else if (same(w[0], "timestamp")) {
        lap(er);
    } else if (same(w[0], "profile")) {
        ek_er_puts(er, "m-profile-[");
        ek_er_puts(er, er->app->firmware);
        ek_er_puts(er, "]\r\nm-model-[");
        ek_er_puts(er, er->app->model);
        ek_er_puts(er, "]\r\nm-edgekiln-[");
        ek_er_puts(er, er->app->info);
        ek_er_puts(er, ",inferences=");
        ek_er_put_u32(er, er->inferences);
        ek_er_puts(er, ",errors=");
        ek_er_put_u32(er, er->errors);
        ek_er_puts(er, "]\r\n");
    } else if (same(w[0], "help")) {
        help(er);
    } else if (same(w[0], "db")) {
        db(er, w, nw);
    } else if (same(w[0], "infer")) {
        infer(er, w, nw);
    } else if (same(w[0], "edgekiln-exit") && er->app->quit) {
        ready(er);
        er->app->quit();
    } else if (same(w[0], "results")) {
        if (er->have_result) er->app->results(er);
        else er_error(er, "No inference yet");
    } else {
        er_error(er, "Unknown command");
    }
}

void ek_er_rx(ek_er_t *er, char c)
{
    if (c != '%') {
        if (er->cmd_len < EK_ER_CMD_SIZE) er->cmd[er->cmd_len++] = (c == '\0') ? ' ' : c;
        else er->cmd_overflow = 1u;
        return;
    }
    er->cmd[er->cmd_len] = '\0';
    if (er->cmd_overflow) {
        er->commands++;
        er_error(er, "Command too long");
    } else {
        run(er);
    }
    er->cmd_len = 0;
    er->cmd_overflow = 0;
    ready(er);
}
