/* roda_decoders.c - the table of payload formats the inputs can decode (see roda_decoder.h). */
#include "roda_decoder.h"

#include <string.h>

#include "roda_json_decode.h"
#include "roda_sparkplug_decode.h"
#include "roda_v1_decode.h"

/* One line per format; the first is the default. */
static const roda_decoder_t *const decoders[] = {
    &roda_v1_decoder,
    &roda_json_decoder,
    &roda_sparkplug_decoder,
};

const roda_decoder_t *roda_decoder_find(const char *name)
{
    for (size_t i = 0; i < sizeof decoders / sizeof decoders[0]; i++)
        if (strcmp(decoders[i]->name, name) == 0)
            return decoders[i];
    return NULL;
}

const roda_decoder_t *roda_decoder_default(void)
{
    return decoders[0];
}

const char *roda_decode_status_str(roda_decode_status_t status)
{
    switch (status) {
    case RODA_DECODE_OK:
        return "ok";
    case RODA_DECODE_TRUNCATED:
        return "truncated";
    case RODA_DECODE_MALFORMED:
        return "malformed";
    case RODA_DECODE_TOO_MANY:
        return "too_many_readings";
    case RODA_DECODE_OVERSIZE:
        return "oversize";
    case RODA_DECODE_TOPIC:
        return "unknown_topic";
    case RODA_DECODE_IGNORED:
        return "ignored";
    case RODA_DECODE_NO_ROOM:
        return "no_room";
    }
    return "unknown";
}
