/* roda_decoder.h - the decoder seam: a payload format decoded straight into input journal
 * records, in two passes over the message buffer, without copies or allocation.
 *
 * Pass 1, open: reads the message's header (device name, sequence, boot epoch), checks its
 * framing and counts the readings without decoding them. The ingest then knows the device
 * (duplicate? registry full?) and how many journal slots to claim before any reading is decoded.
 * Pass 2, readings: decodes readings into the claimed slots, resuming where the previous call
 * stopped, so that a batch can be spread over the two runs of a claim that wraps at the ring's
 * end.
 *
 * A decoder is a roda_decoder_t (a name and the two passes) listed once in roda_decoders.c; an
 * input picks one by name per input or per topic filter (roda_decoder_find), with the decoder's
 * own settings for that filter (roda_decode_context_t.settings, e.g. the JSON field mapping). A
 * new payload format is one folder under decoders/ plus one line in that table.
 *
 * Stateful formats (Sparkplug B): the context also carries the message's topic, the settings
 * point at the input's state for the format (alias tables, sequences), and pass 1 may report
 * what the format's own bookkeeping found: messages lost upstream just before this one (`lost`),
 * a repeated message (`duplicate`: dropped and counted as such), or devices that went silent
 * (`silence`: the message has no readings; the decoder's `silenced` lists the devices, whose
 * sensors the rules then treat as silent at once). Formats without such state leave them 0.
 *
 * Named sensors: a format that names its sensors instead of numbering them (JSON's "temp")
 * returns each record's name from pass 2; the ingest then derives the record's sensor_id from
 * (device, name) and keeps the name (roda_sensor_names.h). Numbered formats (roda.v1) keep
 * their ids.
 *
 * Threads: decoders keep no shared state (a stateful format keeps its state in its settings,
 * owned by one input on the ingest thread); a roda_decode_batch_t belongs to one thread. */
#ifndef RODA_DECODER_H
#define RODA_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "roda_devices.h"
#include "roda_reading.h"

/* Bounds every decoder keeps: readings in one message, bytes of one message. */
#define RODA_DECODE_MAX_READINGS 1024u
#define RODA_DECODE_MAX_PAYLOAD (256u * 1024u)

/* Why a message (or the rest of it) was refused; the ingest counts each under its own reason. */
typedef enum roda_decode_status {
    RODA_DECODE_OK = 0,
    RODA_DECODE_TRUNCATED = 1, /* the payload ends inside a field */
    RODA_DECODE_MALFORMED = 2, /* bad framing, wrong type, bad length, name too long */
    RODA_DECODE_TOO_MANY = 3,  /* more than RODA_DECODE_MAX_READINGS readings */
    RODA_DECODE_OVERSIZE = 4,  /* payload over RODA_DECODE_MAX_PAYLOAD */
    RODA_DECODE_TOPIC = 5,     /* a topic the format does not read (unknown_topic) */
    RODA_DECODE_IGNORED = 6,   /* a well-formed message with nothing to read (e.g. a command) */
    RODA_DECODE_NO_ROOM = 7,   /* the format's state has no room for the message's device */
} roda_decode_status_t;

/* What the input gives a decoder besides the payload, valid until the batch is finished. */
typedef struct roda_decode_context {
    const void *settings; /* the decoder's own settings type for this filter; NULL: defaults */
    void *scratch;        /* memory the decoder may use for this message (e.g. a parse tree) */
    size_t scratch_size;  /* >= RODA_DECODE_SCRATCH_PER_BYTE * the payload's size */
    const char *topic;    /* the message's topic, NUL-terminated (MQTT); NULL: none */
} roda_decode_context_t;

/* Scratch bytes per payload byte a caller provides (the JSON decoder's parse tree, bounded). */
#define RODA_DECODE_SCRATCH_PER_BYTE 40u
/* Scratch bytes a caller provides besides: the decoder's own state. */
#define RODA_DECODE_SCRATCH_BASE 4096u

/* Readings pass 2 consumed without writing a record, by reason (each reading once). */
typedef struct roda_decode_drops {
    uint64_t non_finite;    /* NaN or infinite value (roda.v1) */
    uint64_t missing_field; /* a sensor (or the timestamp) field absent or null */
    uint64_t wrong_type;    /* a string or container where a number belongs, or a
                             * sensor name that is not a valid label */
    uint64_t out_of_range;  /* a number beyond a double or a timestamp beyond int64 µs */
    uint64_t other_device;  /* in a batch, an entry naming another device than the first */
} roda_decode_drops_t;

/* One message being decoded: the header pass 1 found, and pass 2's progress. */
typedef struct roda_decode_batch {
    char device[RODA_DEVICE_NAME_SIZE]; /* NUL-terminated; empty when the message names none */
    size_t device_length;
    uint64_t sequence;   /* 0 when the message carries none */
    uint64_t boot_epoch; /* 0 when the message carries none */
    uint32_t reading_count;
    uint32_t readings_done; /* readings consumed so far (written or dropped as non-finite) */
    uint32_t lost;          /* messages the format's own sequence found missing before this one */
    uint8_t duplicate;      /* the format's own sequence says this message came before */
    uint8_t silence;        /* no readings: the devices `silenced` lists went silent */
    const uint8_t *payload;
    size_t size;
    size_t offset;                        /* the decoder's own resume point in payload */
    const roda_decode_context_t *context; /* NULL: no settings, no scratch */
} roda_decode_batch_t;

typedef struct roda_decoder {
    const char *name; /* the format's name in config and logs, e.g. "roda.v1" */
    /* Pass 1 over `payload` with `context` (both valid until the batch is finished; `context`
     * may be NULL for a decoder that needs neither settings nor scratch). On RODA_DECODE_OK the
     * header and reading_count are set and pass 2 may run. */
    roda_decode_status_t (*open)(roda_decode_batch_t *batch, const roda_decode_context_t *context,
                                 const uint8_t *payload, size_t size);
    /* Pass 2: decodes readings until `max` records are written or the batch ends. Each record
     * gets sensor_id, value, device_time_us and quality; the ingest fills device, input and
     * ingest_time_ns. A named reading gets sensor_id 0 and its NUL-terminated name (valid until
     * the batch is finished) in names[i]; an unnamed one NULL (`names` may be NULL: names are
     * then not returned). Readings it cannot use are skipped and added to *drops by reason.
     * Returns the records written; *status becomes RODA_DECODE_MALFORMED when the batch ends
     * early on a bad reading, else RODA_DECODE_OK. The batch is finished when readings_done ==
     * reading_count or *status is not OK. */
    uint32_t (*readings)(roda_decode_batch_t *batch, roda_reading_t *records, const char **names,
                         uint32_t max, roda_decode_drops_t *drops, roda_decode_status_t *status);
    /* For a batch with `silence` set: the next device that went silent into batch->device and
     * device_length (the first is the message's own); 0 after the last. NULL for formats that
     * never set `silence`. */
    int (*silenced)(roda_decode_batch_t *batch);
} roda_decoder_t;

/* The registered decoder called `name`, or NULL. */
const roda_decoder_t *roda_decoder_find(const char *name);
/* The decoder inputs use unless configured otherwise (roda.v1). */
const roda_decoder_t *roda_decoder_default(void);
/* A static name for a status ("ok", "truncated", ...). */
const char *roda_decode_status_str(roda_decode_status_t status);

#endif
