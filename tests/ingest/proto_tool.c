/* proto_tool.c - the gateway's codec on the command line, for the cross-implementation test
 * against protoc: "decode FILE" prints what roda_decode reads from a payload; "encode DEVICE
 * SEQUENCE EPOCH SENSOR:VALUE:TIME_US:QUALITY..." writes roda_encode's payload to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roda_v1_decode.h"
#include "roda_encode.h"

static int decode(const char *path)
{
    static uint8_t payload[RODA_DECODE_MAX_PAYLOAD + 1];
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        perror(path);
        return 1;
    }
    size_t size = fread(payload, 1, sizeof(payload), file);
    fclose(file);
    roda_decode_batch_t batch;
    roda_decode_status_t status = roda_v1_decode_open(&batch, NULL, payload, size);
    if (status != RODA_DECODE_OK) {
        printf("error %s\n", roda_decode_status_str(status));
        return 1;
    }
    printf("device=%s sequence=%llu boot_epoch=%llu readings=%u\n", batch.device,
           (unsigned long long)batch.sequence, (unsigned long long)batch.boot_epoch,
           batch.reading_count);
    roda_reading_t record;
    roda_decode_drops_t drops = {0};
    while (batch.readings_done < batch.reading_count) {
        if (roda_v1_decode_readings(&batch, &record, NULL, 1, &drops, &status) == 1)
            printf("reading sensor=%llu value=%.17g time_us=%lld quality=%u\n",
                   (unsigned long long)record.sensor_id, record.value,
                   (long long)record.device_time_us, record.quality);
        if (status != RODA_DECODE_OK) {
            printf("error %s\n", roda_decode_status_str(status));
            return 1;
        }
    }
    printf("non_finite=%llu\n", (unsigned long long)drops.non_finite);
    return 0;
}

static int encode(int argc, char **argv)
{
    static roda_v1_Reading readings[RODA_DECODE_MAX_READINGS];
    static uint8_t payload[RODA_DECODE_MAX_PAYLOAD];
    uint32_t count = 0;
    for (int i = 5; i < argc && count < RODA_DECODE_MAX_READINGS; i++) {
        char *cursor = argv[i];
        roda_v1_Reading *reading = &readings[count++];
        reading->sensor_id = strtoull(cursor, &cursor, 10);
        reading->value = strtod(cursor + 1, &cursor);
        reading->time_us = strtoll(cursor + 1, &cursor, 10);
        reading->quality = (uint32_t)strtoul(cursor + 1, NULL, 10);
    }
    roda_encode_batch_t batch = {.device = argv[2],
                                 .sequence = strtoull(argv[3], NULL, 10),
                                 .boot_epoch = strtoull(argv[4], NULL, 10),
                                 .readings = readings,
                                 .reading_count = count};
    size_t size = roda_encode(&batch, payload, sizeof(payload));
    if (size == 0) {
        fprintf(stderr, "proto_tool: batch does not encode\n");
        return 1;
    }
    return fwrite(payload, 1, size, stdout) == size ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "decode") == 0)
        return decode(argv[2]);
    if (argc >= 5 && strcmp(argv[1], "encode") == 0)
        return encode(argc, argv);
    fprintf(stderr, "usage: proto_tool decode FILE | encode DEVICE SEQUENCE EPOCH "
                    "SENSOR:VALUE:TIME_US:QUALITY...\n");
    return 2;
}
