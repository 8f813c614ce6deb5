/* ek_fo_json.h - a small JSON tokenizer (jsmn style) for the .ekf header metadata.
 * Tokens live in a caller-provided array: no allocation. */
#ifndef EK_FO_JSON_H
#define EK_FO_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum { EK_FO_J_OBJECT, EK_FO_J_ARRAY, EK_FO_J_STRING, EK_FO_J_PRIMITIVE } ek_fo_jtype;

typedef struct {
    ek_fo_jtype type;
    int start, end;   /* byte range in the text (strings: without quotes) */
    int size;         /* objects: number of keys; arrays: number of items */
    int next;         /* index of the token after this one and all its children */
} ek_fo_jtok;

/* Parses text[0..len) into toks; returns the token count, or -1 with a message in err. */
int ek_fo_json_parse(const char *text, int len, ek_fo_jtok *toks, int max_toks, char *err, size_t err_len);

/* Value token of key in object token obj, or -1. */
int ek_fo_json_get(const char *text, const ek_fo_jtok *toks, int obj, const char *key);
/* Item i of array token arr, or -1. */
int ek_fo_json_item(const ek_fo_jtok *toks, int arr, int i);
int ek_fo_json_streq(const char *text, const ek_fo_jtok *t, const char *s);
/* Integer/number value of a primitive token; returns 0 on success. */
int ek_fo_json_int(const char *text, const ek_fo_jtok *t, int64_t *out);
int ek_fo_json_num(const char *text, const ek_fo_jtok *t, double *out);
/* Copies a string token (no unescaping beyond what the header needs) into out. */
int ek_fo_json_str(const char *text, const ek_fo_jtok *t, char *out, size_t out_len);

#endif
