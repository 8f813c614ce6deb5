/* ek_fo_predictor_file.h - loads a predictor file written by flash_offload/predictor.py and
 * checks it belongs to the model (model hash). */
#ifndef EK_FO_PREDICTOR_FILE_H
#define EK_FO_PREDICTOR_FILE_H

#include <stddef.h>

#include "ek_fo_file.h"
#include "ek_fo_predictor.h"

int ek_fo_predictor_load(ek_fo_predictor *p, const char *path, const ek_fo_file *model, char *err, size_t err_len);
void ek_fo_predictor_free(ek_fo_predictor *p);

#endif
