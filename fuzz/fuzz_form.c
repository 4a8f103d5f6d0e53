/* libFuzzer target: qattn serve's mapping from request fields to a transcription's params
 * (tools/serve/form.c). The input is fields "name\0value\0..." (a value may hold any byte
 * but NUL here; form.c gets its length); after them the request is finished, and whatever
 * form.c accepted must be params the library's checks take or refuse cleanly: the language
 * and prompts NUL-terminated inside the request, numbers in range. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    serve_request r;
    form_init(&r, size > 0 && (data[0] & 1) ? QATTN_TASK_TRANSLATE : QATTN_TASK_TRANSCRIBE);
    const char *at = (const char *)data, *end = at + size;
    char err[256];
    int ok = 1;
    while (ok && at < end) {
        const char *name_end = memchr(at, '\0', (size_t)(end - at));
        if (!name_end)
            break;
        const char *value = name_end + 1, *value_end = value < end ? memchr(value, '\0', (size_t)(end - value)) : NULL;
        if (!value_end)
            value_end = end;
        ok = form_set(&r, at, value, (size_t)(value_end - value), err, sizeof err);
        if (!ok && !err[0])
            abort(); /* a refusal always says why */
        at = value_end + 1;
    }
    if (ok && form_finish(&r, err, sizeof err)) {
        const qattn_transcribe_params *p = &r.params;
        if (p->language && strlen(p->language) >= sizeof r.language)
            abort();
        if ((p->initial_prompt && strlen(p->initial_prompt) > FORM_MAX_TEXT) ||
            (p->hotwords && strlen(p->hotwords) > FORM_MAX_TEXT))
            abort();
        if (!(p->temperature >= 0 && p->temperature <= 1) || p->beam_size < 1 || p->beam_size > 32 ||
            p->best_of < 1 || p->best_of > 32 || (unsigned)r.format > RESPONSE_VERBOSE_JSON)
            abort();
        if (r.stream && r.format != RESPONSE_JSON && r.format != RESPONSE_TEXT)
            abort();
    }
    form_free(&r);
    return 0;
}
