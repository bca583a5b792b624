/* roda_inputs.c - the table of inputs the gateway runs (see roda_input.h). */
#include "roda_input.h"

#include <stdio.h>

#include "roda_input_mqtt.h"
#include "roda_input_nats.h"
#include "roda_input_udp.h"

/* One line per input. The order is each input's index in the journal's records and in
 * roda-audit's output: append, never reorder. */
static const roda_input_class_t *const inputs[] = {
    &roda_input_mqtt,
    &roda_input_udp,
    &roda_input_nats,
};

_Static_assert(sizeof inputs / sizeof inputs[0] <= RODA_INGEST_MAX_INPUTS,
               "RODA_INGEST_MAX_INPUTS bounds the table");

bool roda_input_configure(const roda_input_class_t *input, const roda_config_t *config,
                          roda_input_settings_t *settings, bool *enabled, char *why, size_t size)
{
    *enabled = false;
    if (input->settings_size > sizeof settings->bytes) {
        snprintf(why, size, "input %s: settings of %zu B exceed RODA_INPUT_SETTINGS_MAX",
                 input->name, input->settings_size);
        return false;
    }
    return input->configure(config, settings->bytes, enabled, why, size);
}

const roda_input_class_t *const *roda_inputs(uint32_t *count)
{
    *count = (uint32_t)(sizeof inputs / sizeof inputs[0]);
    return inputs;
}
