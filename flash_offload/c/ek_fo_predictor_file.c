/* ek_fo_predictor_file.c - predictor file reader (format of flash_offload/predictor.py). */
#include "ek_fo_predictor_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ekfo_predictor_load(ekfo_predictor *p, const char *path, const ekfo_file *model, char *err, size_t err_len)
{
    (void)model;
    memset(p, 0, sizeof *p);
    snprintf(err, err_len, "%s: predictor files are not supported yet", path);
    return -1;
}

void ekfo_predictor_free(ekfo_predictor *p)
{
    free(p->layers);
    free(p->blob);
    memset(p, 0, sizeof *p);
}
