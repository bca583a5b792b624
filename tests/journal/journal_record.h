/* journal_record.h - the record the file-backed journal tests write and check: its own position,
 * a value derived from it and a checksum of both, so a torn, shifted or stale record is caught. */
#ifndef RODA_TEST_JOURNAL_RECORD_H
#define RODA_TEST_JOURNAL_RECORD_H

#include <stdint.h>

typedef struct test_record {
    uint64_t position;
    uint64_t check;
} test_record_t;

static inline test_record_t test_record_make(uint64_t position)
{
    return (test_record_t){.position = position, .check = ~position * 0x9e3779b97f4a7c15ull};
}

static inline int test_record_valid(const test_record_t *record, uint64_t position)
{
    return record->position == position && record->check == ~position * 0x9e3779b97f4a7c15ull;
}

/* The geometry the writer program and the tests share: 16-byte records, 256 per segment (one
 * page), four segments in the ring. */
#define TEST_CAPACITY 1024u
#define TEST_SEGMENT_RECORDS 256u
#define TEST_RETAINED 6u

#endif
