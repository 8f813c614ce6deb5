/* ek_fo_json.c - JSON tokenizer for the .ekf header (jsmn style, strict enough for a
 * header we wrote ourselves; anything malformed is reported, never guessed). */
#include "ek_fo_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s;
    int len, pos, n, max;
    ek_fo_jtok *toks;
    char *err;
    size_t err_len;
} parser;

static int fail(parser *p, const char *what)
{
    snprintf(p->err, p->err_len, "malformed JSON metadata at byte %d: %s", p->pos, what);
    return -1;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\n' ||
                               p->s[p->pos] == '\r' || p->s[p->pos] == '\t'))
        p->pos++;
}

static int new_tok(parser *p, ek_fo_jtype type, int start)
{
    if (p->n >= p->max)
        return fail(p, "too many tokens");
    ek_fo_jtok *t = &p->toks[p->n];
    t->type = type;
    t->start = start;
    t->end = start;
    t->size = 0;
    t->next = p->n + 1;
    return p->n++;
}

static int parse_value(parser *p, int depth);

static int parse_string(parser *p)
{
    p->pos++;                                       /* opening quote */
    int start = p->pos;
    while (p->pos < p->len && p->s[p->pos] != '"') {
        if (p->s[p->pos] == '\\')
            p->pos++;
        p->pos++;
    }
    if (p->pos >= p->len)
        return fail(p, "unterminated string");
    int i = new_tok(p, EK_FO_J_STRING, start);
    if (i < 0)
        return -1;
    p->toks[i].end = p->pos++;
    return i;
}

static int parse_container(parser *p, int depth, int is_obj)
{
    if (depth > 64)
        return fail(p, "nesting too deep");
    int i = new_tok(p, is_obj ? EK_FO_J_OBJECT : EK_FO_J_ARRAY, p->pos);
    if (i < 0)
        return -1;
    char close = is_obj ? '}' : ']';
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            skip_ws(p);
            if (is_obj) {
                if (p->pos >= p->len || p->s[p->pos] != '"')
                    return fail(p, "expected a key");
                if (parse_string(p) < 0)
                    return -1;
                skip_ws(p);
                if (p->pos >= p->len || p->s[p->pos] != ':')
                    return fail(p, "expected ':'");
                p->pos++;
            }
            if (parse_value(p, depth + 1) < 0)
                return -1;
            p->toks[i].size++;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->len && p->s[p->pos] == close) {
                p->pos++;
                break;
            }
            return fail(p, "expected ',' or a closing bracket");
        }
    }
    p->toks[i].end = p->pos;
    p->toks[i].next = p->n;
    return i;
}

static int parse_value(parser *p, int depth)
{
    skip_ws(p);
    if (p->pos >= p->len)
        return fail(p, "unexpected end");
    char c = p->s[p->pos];
    if (c == '{' || c == '[')
        return parse_container(p, depth, c == '{');
    if (c == '"')
        return parse_string(p);
    int start = p->pos;
    while (p->pos < p->len && strchr(" \t\r\n,]}:", p->s[p->pos]) == NULL)
        p->pos++;
    if (p->pos == start)
        return fail(p, "expected a value");
    int i = new_tok(p, EK_FO_J_PRIMITIVE, start);
    if (i < 0)
        return -1;
    p->toks[i].end = p->pos;
    return i;
}

int ek_fo_json_parse(const char *text, int len, ek_fo_jtok *toks, int max_toks, char *err, size_t err_len)
{
    parser p = {text, len, 0, 0, max_toks, toks, err, err_len};
    if (parse_value(&p, 0) < 0)
        return -1;
    skip_ws(&p);
    if (p.pos != len)
        return fail(&p, "trailing bytes after the top-level value");
    if (toks[0].type != EK_FO_J_OBJECT)
        return fail(&p, "top-level value is not an object");
    return p.n;
}

int ek_fo_json_streq(const char *text, const ek_fo_jtok *t, const char *s)
{
    size_t n = strlen(s);
    return t->type == EK_FO_J_STRING && (size_t)(t->end - t->start) == n && memcmp(text + t->start, s, n) == 0;
}

int ek_fo_json_get(const char *text, const ek_fo_jtok *toks, int obj, const char *key)
{
    if (obj < 0 || toks[obj].type != EK_FO_J_OBJECT)
        return -1;
    int k = obj + 1;
    for (int i = 0; i < toks[obj].size; i++) {
        int v = k + 1;
        if (ek_fo_json_streq(text, &toks[k], key))
            return v;
        k = toks[v].next;
    }
    return -1;
}

int ek_fo_json_item(const ek_fo_jtok *toks, int arr, int i)
{
    if (arr < 0 || toks[arr].type != EK_FO_J_ARRAY || i < 0 || i >= toks[arr].size)
        return -1;
    int k = arr + 1;
    for (int j = 0; j < i; j++)
        k = toks[k].next;
    return k;
}

/* Copies primitive token t into buf as a NUL-terminated string; -1 if it is not a
 * primitive or does not fit. */
static int primitive_text(const char *text, const ek_fo_jtok *t, char *buf, int cap)
{
    int n = t->end - t->start;
    if (t->type != EK_FO_J_PRIMITIVE || n <= 0 || n >= cap)
        return -1;
    memcpy(buf, text + t->start, (size_t)n);
    buf[n] = '\0';
    return 0;
}

int ek_fo_json_num(const char *text, const ek_fo_jtok *t, double *out)
{
    char buf[64];
    if (primitive_text(text, t, buf, (int)sizeof buf) != 0)
        return -1;
    char *end;
    *out = strtod(buf, &end);
    return *end == '\0' ? 0 : -1;
}

int ek_fo_json_int(const char *text, const ek_fo_jtok *t, int64_t *out)
{
    char buf[32];
    if (primitive_text(text, t, buf, (int)sizeof buf) != 0)
        return -1;
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (*end != '\0')
        return -1;
    *out = (int64_t)v;
    return 0;
}

int ek_fo_json_str(const char *text, const ek_fo_jtok *t, char *out, size_t out_len)
{
    size_t n = (size_t)(t->end - t->start);
    if (t->type != EK_FO_J_STRING || n + 1 > out_len)
        return -1;
    memcpy(out, text + t->start, n);
    out[n] = '\0';
    return 0;
}
