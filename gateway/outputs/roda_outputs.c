/* roda_outputs.c - the table of alert outputs and their life cycle as a set (see
 * roda_output.h). */
#include "roda_output.h"

#include <string.h>

#include "roda_output_alertmanager.h"
#include "roda_output_mqtt.h"
#include "roda_output_recent.h"
#include "roda_output_sse.h"

/* One line per output. */
static const roda_output_class_t *const outputs[] = {
    &roda_output_sse,
    &roda_output_recent,
    &roda_output_mqtt,
    &roda_output_alertmanager,
};

_Static_assert(sizeof outputs / sizeof outputs[0] <= RODA_OUTPUTS_MAX,
               "RODA_OUTPUTS_MAX bounds the table");

const roda_output_class_t *const *roda_outputs(uint32_t *count)
{
    *count = (uint32_t)(sizeof outputs / sizeof outputs[0]);
    return outputs;
}

bool roda_output_enabled(const roda_output_class_t *output, const roda_config_t *config)
{
    return output->enabled == NULL || output->enabled(config);
}

bool roda_outputs_check(const roda_config_t *config, char *why, size_t size)
{
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++)
        if (roda_output_enabled(outputs[i], config) && outputs[i]->check != NULL &&
            !outputs[i]->check(config, why, size))
            return false;
    return true;
}

roda_result_t roda_output_set_create(roda_output_set_t *set,
                                     const roda_output_class_t *const *classes, uint32_t count,
                                     const roda_output_context_t *context)
{
    memset(set, 0, sizeof *set);
    roda_result_t result = RODA_SUCCESS;
    for (uint32_t i = 0; result == RODA_SUCCESS && i < count; i++) {
        if (!roda_output_enabled(classes[i], context->config))
            continue;
        if (set->count == RODA_OUTPUTS_MAX) {
            result = RODA_ERROR_TOO_MANY;
            break;
        }
        void *state = NULL;
        result = classes[i]->create(context, &state);
        if (result != RODA_SUCCESS)
            break;
        set->classes[set->count] = classes[i];
        set->states[set->count++] = state;
        if (classes[i]->metrics != NULL)
            result = roda_http_add_metrics(context->http, classes[i]->metrics, state);
    }
    if (result != RODA_SUCCESS)
        roda_output_set_destroy(set);
    return result;
}

roda_result_t roda_output_set_start(roda_output_set_t *set)
{
    for (uint32_t i = 0; i < set->count; i++) {
        if (set->classes[i]->start == NULL)
            continue;
        roda_result_t result = set->classes[i]->start(set->states[i]);
        if (result != RODA_SUCCESS) {
            roda_output_set_stop(set, 0);
            return result;
        }
    }
    return RODA_SUCCESS;
}

void roda_output_set_stop(roda_output_set_t *set, uint32_t flush_ms)
{
    for (uint32_t i = 0; i < set->count; i++)
        if (set->classes[i]->stop != NULL)
            set->classes[i]->stop(set->states[i], flush_ms);
}

void roda_output_set_destroy(roda_output_set_t *set)
{
    for (uint32_t i = 0; i < set->count; i++)
        set->classes[i]->destroy(set->states[i]);
    set->count = 0;
}

void roda_output_set_totals(const roda_output_set_t *set, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < set->count && len + 1 < size; i++) {
        if (set->classes[i]->totals == NULL)
            continue;
        if (len > 0)
            buf[len++] = ' ';
        set->classes[i]->totals(set->states[i], buf + len, size - len);
        len += strlen(buf + len);
    }
}
