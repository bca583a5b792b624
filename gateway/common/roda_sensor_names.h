/* roda_sensor_names.h - the bounded registry of sensor names: the names of sensors a payload
 * format names instead of numbering (JSON's "temp"), each under a stable 64-bit id derived from
 * (device, name), for /sensors, per-sensor metrics, alerts and rule scopes.
 *
 * Ids: roda_sensor_name_id() is XXH3-64 of "device\0name" with the top bit set. The same device
 * and name give the same id on every gateway and across restarts (a replay keeps its sensors);
 * the top bit keeps named sensors apart from numbered ones (roda.v1 ids below 2^63, which every
 * real fleet uses; a roda.v1 id with the top bit set could collide, and is documented as
 * reserved). Two (device, name) pairs share an id with probability about n^2 / 2^64.
 *
 * Memory: one mapping made at creation: a header, `max_names` entries of 72 bytes (id and a
 * NUL-terminated name of up to RODA_DEVICE_NAME_SIZE - 1 bytes) and an open-addressing index of
 * the next power of two >= 2 * max_names uint32 slots, every page touched then. Interning never
 * allocates; past `max_names` a new name is refused (RODA_ERROR_TOO_MANY): the caller counts it
 * and the reading goes in unnamed.
 *
 * Persistence: with a path, the mapping is that file (MAP_SHARED), so names survive the process
 * (as roda_devices.h's registry: page cache, no sync after creation). A file whose header checks
 * out with the same geometry and whose first `count` entries are valid, distinct names is
 * reused (the index rebuilt); any other is replaced by a new empty file, made as `path`.tmp,
 * synced and renamed over it.
 *
 * Threads: create/destroy from one thread while nobody else uses the registry; intern from one
 * thread (the ingest); roda_sensor_names_find and _count from any thread: an entry is complete
 * before its index slot is published (release) and never changes. */
#ifndef RODA_SENSOR_NAMES_H
#define RODA_SENSOR_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "roda_devices.h"
#include "roda_result.h"

/* The registry's file in a journal directory (the journal's scan ignores other names). */
#define RODA_SENSOR_NAMES_FILE_NAME "sensors.rdn"
/* The bit every id derived from a name carries. */
#define RODA_SENSOR_NAMED_BIT (1ull << 63)

typedef struct roda_sensor_names roda_sensor_names_t;

/* The id of sensor `name` of device `device` (neither NUL-terminated here). */
uint64_t roda_sensor_name_id(const char *device, size_t device_length, const char *name,
                             size_t name_length);

/* Creates a registry for 1 .. RODA_DEVICES_MAX names: in anonymous memory when `path` is NULL,
 * else in the file `path` (its directory must exist). *restored receives the names restored
 * from the file (0 otherwise) and *discarded_why, when not NULL, why an existing file was not
 * used. RODA_ERROR_INVALID_ARG, RODA_ERROR_NOMEM, RODA_ERROR_IO (errno kept). */
roda_result_t roda_sensor_names_create(uint32_t max_names, const char *path, uint32_t *restored,
                                       const char **discarded_why, roda_sensor_names_t **out);
/* Maps the existing registry file `path` for offline tools (roda-replay): the names as of now,
 * privately (nothing is written to the file; intern must not be called). RODA_ERROR_IO (errno
 * kept) when it cannot be opened, RODA_ERROR_CORRUPT when roda_sensor_names_create would not
 * trust it, RODA_ERROR_NOMEM. */
roda_result_t roda_sensor_names_open_readonly(const char *path, roda_sensor_names_t **out);
void roda_sensor_names_destroy(roda_sensor_names_t *names);
/* Bytes roda_sensor_names_create() maps and allocates for `max_names`. */
uint64_t roda_sensor_names_memory(uint32_t max_names);

/* Records `name` (NUL-terminated, a valid label as roda_devices_name_valid) for `id`; a known
 * id keeps its first name. RODA_SUCCESS, RODA_ERROR_INVALID_ARG (invalid name),
 * RODA_ERROR_TOO_MANY (full). One thread only. */
roda_result_t roda_sensor_names_intern(roda_sensor_names_t *names, uint64_t id, const char *name);
/* The name of `id`, or NULL when it has none. Any thread; `names` may be NULL (none). */
const char *roda_sensor_names_find(const roda_sensor_names_t *names, uint64_t id);
/* Names recorded so far. Any thread. */
uint32_t roda_sensor_names_count(const roda_sensor_names_t *names);

#endif
