/* ek_fo_json.h - a small JSON tokenizer (jsmn style) for the .ekf header metadata.
 * Tokens live in a caller-provided array: no allocation. */
#ifndef EK_FO_JSON_H
#define EK_FO_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum { EKFO_J_OBJECT, EKFO_J_ARRAY, EKFO_J_STRING, EKFO_J_PRIMITIVE } ekfo_jtype;

typedef struct {
    ekfo_jtype type;
    int start, end;   /* byte range in the text (strings: without quotes) */
    int size;         /* objects: number of keys; arrays: number of items */
    int next;         /* index of the token after this one and all its children */
} ekfo_jtok;

/* Parses text[0..len) into toks; returns the token count, or -1 with a message in err. */
int ekfo_json_parse(const char *text, int len, ekfo_jtok *toks, int max_toks, char *err, size_t err_len);

/* Value token of key in object token obj, or -1. */
int ekfo_json_get(const char *text, const ekfo_jtok *toks, int obj, const char *key);
/* Item i of array token arr, or -1. */
int ekfo_json_item(const ekfo_jtok *toks, int arr, int i);
int ekfo_json_streq(const char *text, const ekfo_jtok *t, const char *s);
/* Integer/number value of a primitive token; returns 0 on success. */
int ekfo_json_int(const char *text, const ekfo_jtok *t, int64_t *out);
int ekfo_json_num(const char *text, const ekfo_jtok *t, double *out);
/* Copies a string token (no unescaping beyond what the header needs) into out. */
int ekfo_json_str(const char *text, const ekfo_jtok *t, char *out, size_t out_len);

#endif
