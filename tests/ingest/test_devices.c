/* test_devices.c - the device registry: interning, bounds, name checks, the sequence verdicts
 * that drive lost/duplicate counting, and the registry's file across a reopen, a SIGKILL and
 * damage. Also the MQTT topic pattern. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "roda_check.h"
#include "roda_devices.h"
#include "roda_input_mqtt.h"

/* Judges and records a batch, as the ingest does around committing its readings. */
static roda_sequence_verdict_t track(roda_devices_t *devices, uint32_t index, uint64_t boot_epoch,
                                     uint64_t sequence, uint64_t *lost)
{
    roda_sequence_verdict_t verdict =
        roda_devices_judge(devices, index, boot_epoch, sequence, lost);
    roda_devices_record(devices, index, boot_epoch, sequence, verdict, *lost);
    return verdict;
}

START_TEST(interning_is_stable_and_bounded)
{
    roda_devices_t *devices;
    ck_assert_int_eq(roda_devices_create(0, NULL, &devices), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_devices_create(3, NULL, &devices), RODA_SUCCESS);
    uint32_t a, b, again;
    ck_assert_int_eq(roda_devices_intern(devices, "alpha", 5, &a), RODA_SUCCESS);
    ck_assert_int_eq(roda_devices_intern(devices, "beta-longer", 4, &b), RODA_SUCCESS);
    ck_assert_uint_ne(a, b);
    ck_assert_int_eq(roda_devices_intern(devices, "alpha", 5, &again), RODA_SUCCESS);
    ck_assert_uint_eq(again, a);
    ck_assert_int_eq(roda_devices_intern(devices, "alph", 4, &again), RODA_SUCCESS);
    ck_assert_uint_ne(again, a);
    ck_assert_str_eq(roda_devices_name(devices, b), "beta");
    ck_assert_uint_eq(roda_devices_count(devices), 3);
    ck_assert_int_eq(roda_devices_intern(devices, "gamma", 5, &again), RODA_ERROR_TOO_MANY);
    ck_assert_int_eq(roda_devices_intern(devices, "beta", 4, &again), RODA_SUCCESS);
    ck_assert_uint_eq(again, b);
    ck_assert_ptr_null(roda_devices_name(devices, 3));
    roda_devices_destroy(devices);
}
END_TEST

START_TEST(names_must_be_label_safe)
{
    ck_assert(roda_devices_name_valid("sensor-01.site_a", 16));
    ck_assert(!roda_devices_name_valid("", 0));
    ck_assert(roda_devices_name_valid("a b", 3));
    ck_assert(!roda_devices_name_valid(" ab", 3));
    ck_assert(!roda_devices_name_valid("ab ", 3));
    ck_assert(!roda_devices_name_valid("a\"b", 3));
    ck_assert(!roda_devices_name_valid("a\\b", 3));
    ck_assert(!roda_devices_name_valid("a\nb", 3));
    ck_assert(!roda_devices_name_valid("\xc3\xa9", 2));
    char long_name[RODA_DEVICE_NAME_SIZE];
    memset(long_name, 'x', sizeof(long_name));
    ck_assert(roda_devices_name_valid(long_name, RODA_DEVICE_NAME_SIZE - 1));
    ck_assert(!roda_devices_name_valid(long_name, RODA_DEVICE_NAME_SIZE));
    roda_devices_t *devices;
    ck_assert_int_eq(roda_devices_create(4, NULL, &devices), RODA_SUCCESS);
    uint32_t index;
    ck_assert_int_eq(roda_devices_intern(devices, "a\tb", 3, &index), RODA_ERROR_INVALID_ARG);
    roda_devices_destroy(devices);
}
END_TEST

/* A broker restart reorders a device's batches: 1..300 arrive with 127..189 after 190..300 (as
 * measured in the broker-kill fault test). Every batch is accepted once, the gap they left is
 * filled as late, and a redelivery of any of them is still a duplicate. */
START_TEST(reordered_batches_are_not_duplicates)
{
    roda_devices_t *devices;
    ck_assert_int_eq(roda_devices_create(1, NULL, &devices), RODA_SUCCESS);
    uint32_t d;
    uint64_t lost, lost_total = 0;
    ck_assert_int_eq(roda_devices_intern(devices, "d", 1, &d), RODA_SUCCESS);
    for (uint64_t s = 1; s <= 300; s++) {
        uint64_t sequence = s <= 126 ? s : s <= 237 ? s + 63 : s - 111;
        ck_assert_int_ne(track(devices, d, 1, sequence, &lost), RODA_SEQUENCE_DUPLICATE);
        lost_total += lost;
    }
    for (uint64_t s = 1; s <= 300; s++)
        ck_assert_int_eq(track(devices, d, 1, s, &lost), RODA_SEQUENCE_DUPLICATE);
    roda_device_counters_t counters;
    ck_assert_int_eq(roda_devices_counters(devices, d, &counters), RODA_SUCCESS);
    ck_assert_uint_eq(counters.batches, 300);
    ck_assert_uint_eq(counters.late, 63);
    ck_assert_uint_eq(lost_total, 63);
    ck_assert_uint_eq(counters.duplicates, 300);
    roda_devices_destroy(devices);
}
END_TEST

START_TEST(sequence_verdicts)
{
    roda_devices_t *devices;
    ck_assert_int_eq(roda_devices_create(4, NULL, &devices), RODA_SUCCESS);
    uint32_t d;
    uint64_t lost;
    ck_assert_int_eq(roda_devices_intern(devices, "d", 1, &d), RODA_SUCCESS);
    /* The first sequenced batch: what the device's boot sent before it was never seen here. */
    ck_assert_int_eq(track(devices, d, 5, 10, &lost), RODA_SEQUENCE_FIRST);
    ck_assert_uint_eq(lost, 9);
    ck_assert_int_eq(track(devices, d, 5, 11, &lost), RODA_SEQUENCE_NEXT);
    ck_assert_int_eq(track(devices, d, 5, 11, &lost), RODA_SEQUENCE_DUPLICATE);
    ck_assert_int_eq(track(devices, d, 5, 15, &lost), RODA_SEQUENCE_GAP);
    ck_assert_uint_eq(lost, 3);
    ck_assert_int_eq(track(devices, d, 5, 13, &lost), RODA_SEQUENCE_LATE);
    ck_assert_int_eq(track(devices, d, 5, 13, &lost), RODA_SEQUENCE_DUPLICATE);
    ck_assert_int_eq(track(devices, d, 5, 10, &lost), RODA_SEQUENCE_DUPLICATE);
    /* A jump past the window forgets it: a batch below the window can no longer be told from a
     * redelivery, and is accepted as late rather than dropped on a guess. */
    const uint64_t far = 15 + RODA_DEVICES_WINDOW + 100;
    ck_assert_int_eq(track(devices, d, 5, far, &lost), RODA_SEQUENCE_GAP);
    ck_assert_uint_eq(lost, far - 16);
    ck_assert_int_eq(track(devices, d, 5, 14, &lost), RODA_SEQUENCE_LATE);
    ck_assert_int_eq(track(devices, d, 5, far - 10, &lost), RODA_SEQUENCE_LATE);
    ck_assert_int_eq(track(devices, d, 5, far - 10, &lost), RODA_SEQUENCE_DUPLICATE);
    /* A reboot restarts the sequence without a gap (its sequence 0 carries no position). */
    ck_assert_int_eq(track(devices, d, 6, 0, &lost), RODA_SEQUENCE_NONE);
    ck_assert_int_eq(track(devices, d, 6, 1, &lost), RODA_SEQUENCE_NEXT);
    ck_assert_uint_eq(lost, 0);
    ck_assert_int_eq(track(devices, d, 6, 2, &lost), RODA_SEQUENCE_NEXT);
    roda_device_counters_t counters;
    ck_assert_int_eq(roda_devices_counters(devices, d, &counters), RODA_SUCCESS);
    ck_assert_uint_eq(counters.batches, 10);
    ck_assert_uint_eq(counters.lost, 3 + far - 16);
    ck_assert_uint_eq(counters.late, 3);
    ck_assert_uint_eq(counters.duplicates, 4);
    ck_assert_uint_eq(counters.sequence_resets, 0);
    ck_assert_int_eq(roda_devices_counters(devices, 1, &counters), RODA_ERROR_INVALID_ARG);
    roda_devices_destroy(devices);
}
END_TEST

typedef struct batch_step {
    uint64_t boot_epoch, sequence;
    roda_sequence_verdict_t verdict;
} batch_step_t;

/* Tracks each step's batch for a new device `name`, expects its verdict, and checks after each
 * that no counter of the device went down and that lost stays at most `max_lost`. Returns the
 * device's final counters. */
static roda_device_counters_t expect_steps(roda_devices_t *devices, const char *name,
                                           const batch_step_t *steps, size_t count,
                                           uint64_t max_lost)
{
    uint32_t d;
    ck_assert_int_eq(roda_devices_intern(devices, name, strlen(name), &d), RODA_SUCCESS);
    roda_device_counters_t counters = {0};
    for (size_t i = 0; i < count; i++) {
        uint64_t lost;
        roda_sequence_verdict_t verdict =
            track(devices, d, steps[i].boot_epoch, steps[i].sequence, &lost);
        ck_assert_msg(verdict == steps[i].verdict, "%s step %zu: verdict %d, expected %d", name, i,
                      (int)verdict, (int)steps[i].verdict);
        roda_device_counters_t now;
        ck_assert_int_eq(roda_devices_counters(devices, d, &now), RODA_SUCCESS);
        ck_assert_uint_ge(now.batches, counters.batches);
        ck_assert_uint_ge(now.lost, counters.lost);
        ck_assert_uint_ge(now.late, counters.late);
        ck_assert_uint_ge(now.duplicates, counters.duplicates);
        ck_assert_uint_ge(now.sequence_resets, counters.sequence_resets);
        ck_assert_uint_eq(now.lost - counters.lost, lost);
        ck_assert_uint_le(now.lost, max_lost);
        counters = now;
    }
    return counters;
}

/* A device without sequences keeps every batch; values no restart, gap or replay explains
 * re-baseline the device (counted as resets) instead of silencing it or inflating its loss. */
START_TEST(sequence_absent_or_hostile)
{
    roda_devices_t *devices;
    ck_assert_int_eq(roda_devices_create(4, NULL, &devices), RODA_SUCCESS);
    static const batch_step_t quiet[] = {{0, RODA_SEQUENCE_ABSENT, RODA_SEQUENCE_NONE},
                                         {0, RODA_SEQUENCE_ABSENT, RODA_SEQUENCE_NONE},
                                         {0, RODA_SEQUENCE_ABSENT, RODA_SEQUENCE_NONE},
                                         {0, RODA_SEQUENCE_ABSENT, RODA_SEQUENCE_NONE}};
    roda_device_counters_t counters =
        expect_steps(devices, "quiet", quiet, sizeof quiet / sizeof quiet[0], 0);
    ck_assert_uint_eq(counters.batches, 4);
    ck_assert_uint_eq(counters.duplicates, 0);
    ck_assert_uint_eq(counters.sequence_resets, 0);

    static const batch_step_t hostile[] = {
        {7, 1, RODA_SEQUENCE_FIRST},
        {7, 2, RODA_SEQUENCE_NEXT},
        {7, UINT64_MAX, RODA_SEQUENCE_RESET}, /* a jump no gap explains */
        {7, 3, RODA_SEQUENCE_RESET},          /* far behind it: the real sequence again */
        {7, 4, RODA_SEQUENCE_NEXT},
        {7, 4, RODA_SEQUENCE_DUPLICATE},
        {7, 6, RODA_SEQUENCE_GAP},            /* a real gap still counts: 1 lost */
        {UINT64_MAX, 7, RODA_SEQUENCE_RESET}, /* an epoch far ahead */
        {7, 7, RODA_SEQUENCE_RESET},          /* the epoch going backwards */
        {7, 8, RODA_SEQUENCE_NEXT},
        {8, 1, RODA_SEQUENCE_NEXT},  /* a reboot */
        {7, 9, RODA_SEQUENCE_RESET}, /* an older epoch */
        {7, 10, RODA_SEQUENCE_NEXT},
        {7, RODA_SEQUENCE_ABSENT, RODA_SEQUENCE_NONE}, /* no position: never a duplicate */
        {7, RODA_SEQUENCE_ABSENT, RODA_SEQUENCE_NONE},
        {7, 11, RODA_SEQUENCE_NEXT},
    };
    counters = expect_steps(devices, "hostile", hostile, sizeof hostile / sizeof hostile[0], 1);
    ck_assert_uint_eq(counters.batches, 15);
    ck_assert_uint_eq(counters.lost, 1);
    ck_assert_uint_eq(counters.duplicates, 1);
    ck_assert_uint_eq(counters.sequence_resets, 5);

    /* The bounds themselves: the largest gap and restart still count as such. */
    const uint64_t step = RODA_DEVICES_MAX_SEQUENCE_STEP, epoch_step = RODA_DEVICES_MAX_EPOCH_STEP;
    const batch_step_t edge[] = {
        {1, 1, RODA_SEQUENCE_FIRST},
        {1, 1 + step, RODA_SEQUENCE_GAP},
        {1, 1, RODA_SEQUENCE_LATE}, /* the largest step behind: beyond the window, accepted */
        {1, 2 + 2 * step, RODA_SEQUENCE_RESET},
        {1, 1, RODA_SEQUENCE_RESET},
        {1 + epoch_step, 1, RODA_SEQUENCE_NEXT},
        {2 + 2 * epoch_step, 1, RODA_SEQUENCE_RESET},
    };
    counters = expect_steps(devices, "edge", edge, sizeof edge / sizeof edge[0], step - 1);
    ck_assert_uint_eq(counters.lost, step - 1);
    ck_assert_uint_eq(counters.sequence_resets, 3);
    roda_devices_destroy(devices);
}
END_TEST

/* ---- The registry's file ------------------------------------------------------------------ */

static char directory[64];
static char path[96];
static char partial[104];

static void make_directory(void)
{
    strcpy(directory, "/tmp/roda-devices-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(directory));
    snprintf(path, sizeof path, "%s/%s", directory, RODA_DEVICES_FILE_NAME);
    snprintf(partial, sizeof partial, "%s.tmp", path);
}

static void remove_directory(void)
{
    unlink(path);
    unlink(partial);
    rmdir(directory);
}

/* A registry file at `path` of `max_devices` holding "alfa" (0) and "beta" (1), alfa at
 * (epoch 1, sequence 2). */
static void make_file(uint32_t max_devices)
{
    roda_devices_t *devices;
    ck_assert_int_eq(roda_devices_create(max_devices, path, &devices), RODA_SUCCESS);
    uint32_t index;
    ck_assert_int_eq(roda_devices_intern(devices, "alfa", 4, &index), RODA_SUCCESS);
    ck_assert_int_eq(roda_devices_intern(devices, "beta", 4, &index), RODA_SUCCESS);
    uint64_t lost;
    ck_assert_int_eq(track(devices, 0, 1, 1, &lost), RODA_SEQUENCE_FIRST);
    ck_assert_int_eq(track(devices, 0, 1, 2, &lost), RODA_SEQUENCE_NEXT);
    roda_devices_destroy(devices);
}

/* Overwrites `length` bytes of the file at `offset`; a negative offset finds `find` instead. */
static void overwrite(long offset, const char *find, const void *bytes, size_t length)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    if (offset < 0) {
        struct stat status;
        ck_assert_int_eq(fstat(fd, &status), 0);
        char *content = malloc((size_t)status.st_size);
        ck_assert_ptr_nonnull(content);
        ck_assert_int_eq(pread(fd, content, (size_t)status.st_size, 0), status.st_size);
        char *at = memmem(content, (size_t)status.st_size, find, strlen(find) + 1);
        ck_assert_ptr_nonnull(at);
        offset = at - content;
        free(content);
    }
    ck_assert_int_eq(pwrite(fd, bytes, length, offset), (ssize_t)length);
    close(fd);
}

/* The damaged file is refused read-only and discarded for `why` by create: an empty registry of
 * `max_devices` in a new file, nothing left at `path`.tmp. */
static void expect_discarded(uint32_t max_devices, const char *why, int readonly_refused)
{
    roda_devices_t *devices;
    if (readonly_refused) {
        devices = (roda_devices_t *)1;
        ck_assert_int_eq(roda_devices_open_readonly(path, &devices), RODA_ERROR_CORRUPT);
        ck_assert_ptr_null(devices);
    }
    ck_assert_int_eq(roda_devices_create(max_devices, path, &devices), RODA_SUCCESS);
    roda_devices_opened_t opened = roda_devices_opened(devices);
    ck_assert_uint_eq(opened.restored, 0);
    ck_assert_ptr_nonnull(opened.discarded_why);
    ck_assert_str_eq(opened.discarded_why, why);
    ck_assert_uint_eq(roda_devices_count(devices), 0);
    uint32_t index;
    ck_assert_int_eq(roda_devices_intern(devices, "beta", 4, &index), RODA_SUCCESS);
    ck_assert_uint_eq(index, 0);
    roda_devices_destroy(devices);
    ck_assert_int_ne(access(partial, F_OK), 0);
    /* The new file is trusted at the next start. */
    ck_assert_int_eq(roda_devices_create(max_devices, path, &devices), RODA_SUCCESS);
    ck_assert_uint_eq(roda_devices_opened(devices).restored, 1);
    ck_assert_ptr_null(roda_devices_opened(devices).discarded_why);
    roda_devices_destroy(devices);
}

/* A reopened registry has the same names at the same indexes and the same positions: a gap
 * after the reopen is lost, a repeat a duplicate; read-only, it shows names and counters. */
START_TEST(reopen_restores_names_indexes_and_positions)
{
    make_directory();
    roda_devices_t *devices;
    ck_assert_int_eq(roda_devices_create(8, path, &devices), RODA_SUCCESS);
    ck_assert_uint_eq(roda_devices_opened(devices).restored, 0);
    ck_assert_ptr_null(roda_devices_opened(devices).discarded_why);
    roda_devices_destroy(devices);
    make_file(8);

    ck_assert_int_eq(roda_devices_create(8, path, &devices), RODA_SUCCESS);
    ck_assert_uint_eq(roda_devices_opened(devices).restored, 2);
    ck_assert_ptr_null(roda_devices_opened(devices).discarded_why);
    ck_assert_uint_eq(roda_devices_count(devices), 2);
    ck_assert_str_eq(roda_devices_name(devices, 0), "alfa");
    ck_assert_str_eq(roda_devices_name(devices, 1), "beta");
    uint32_t index;
    ck_assert_int_eq(roda_devices_intern(devices, "beta", 4, &index), RODA_SUCCESS);
    ck_assert_uint_eq(index, 1);
    ck_assert_int_eq(roda_devices_intern(devices, "gamma", 5, &index), RODA_SUCCESS);
    ck_assert_uint_eq(index, 2);
    uint64_t lost;
    ck_assert_int_eq(track(devices, 0, 1, 2, &lost), RODA_SEQUENCE_DUPLICATE);
    ck_assert_int_eq(track(devices, 0, 1, 4, &lost), RODA_SEQUENCE_GAP);
    ck_assert_uint_eq(lost, 1);
    ck_assert_int_eq(track(devices, 1, 1, 1, &lost), RODA_SEQUENCE_FIRST);
    roda_device_counters_t counters;
    ck_assert_int_eq(roda_devices_counters(devices, 0, &counters), RODA_SUCCESS);
    ck_assert_uint_eq(counters.batches, 3);
    ck_assert_uint_eq(counters.lost, 1);
    ck_assert_uint_eq(counters.duplicates, 1);

    /* Read-only beside the writer, then after it. */
    roda_devices_t *reader;
    ck_assert_int_eq(roda_devices_open_readonly(path, &reader), RODA_SUCCESS);
    ck_assert_uint_eq(roda_devices_count(reader), 3);
    roda_devices_destroy(devices);
    ck_assert_str_eq(roda_devices_name(reader, 2), "gamma");
    ck_assert_ptr_null(roda_devices_name(reader, 3));
    ck_assert_int_eq(roda_devices_counters(reader, 0, &counters), RODA_SUCCESS);
    ck_assert_uint_eq(counters.lost, 1);
    roda_devices_destroy(reader);
    remove_directory();

    errno = 0;
    ck_assert_int_eq(roda_devices_open_readonly(path, &reader), RODA_ERROR_IO);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* A file of another geometry, a damaged header, a wrong size or a bad name is not trusted. */
START_TEST(untrusted_files_are_discarded)
{
    make_directory();
    make_file(8);
    expect_discarded(16, "another max_devices", 0);

    make_file(8);
    overwrite(0, NULL, "X", 1);
    expect_discarded(8, "not a device registry (magic)", 1);

    make_file(8);
    const uint8_t flipped = 0x09; /* max_devices 8 -> 9: the checksum no longer matches */
    overwrite(12, NULL, &flipped, 1);
    expect_discarded(8, "header checksum mismatch", 1);

    make_file(8);
    ck_assert_int_eq(truncate(path, (off_t)(roda_devices_memory(8) - roda_devices_memory(1))), 0);
    expect_discarded(8, "wrong file size", 1);

    make_file(8);
    ck_assert_int_eq(truncate(path, 10), 0);
    expect_discarded(8, "shorter than its header", 1);

    make_file(8);
    overwrite(-1, "beta", "be\tta", 5);
    expect_discarded(8, "invalid device name", 1);

    make_file(8);
    overwrite(-1, "beta", "alfa", 4);
    expect_discarded(8, "duplicate device name", 0);
    remove_directory();
}
END_TEST

/* Every store is in the shared mapping: a process killed right after interning and tracking
 * leaves them to the next one. */
START_TEST(the_file_survives_a_sigkill)
{
    make_directory();
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        roda_devices_t *devices;
        uint32_t index;
        uint64_t lost;
        if (roda_devices_create(8, path, &devices) != RODA_SUCCESS ||
            roda_devices_intern(devices, "killed", 6, &index) != RODA_SUCCESS ||
            track(devices, index, 3, 7, &lost) != RODA_SEQUENCE_FIRST)
            _exit(1);
        kill(getpid(), SIGKILL);
        _exit(2);
    }
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    roda_devices_t *devices;
    ck_assert_int_eq(roda_devices_create(8, path, &devices), RODA_SUCCESS);
    ck_assert_uint_eq(roda_devices_opened(devices).restored, 1);
    ck_assert_str_eq(roda_devices_name(devices, 0), "killed");
    uint64_t lost;
    ck_assert_int_eq(track(devices, 0, 3, 7, &lost), RODA_SEQUENCE_DUPLICATE);
    ck_assert_int_eq(track(devices, 0, 3, 10, &lost), RODA_SEQUENCE_GAP);
    ck_assert_uint_eq(lost, 2);
    roda_devices_destroy(devices);
    remove_directory();
}
END_TEST

START_TEST(topic_pattern)
{
    const char *device;
    size_t length;
    ck_assert(
        roda_mqtt_topic_device("roda/{device}/readings", "roda/d-7/readings", &device, &length));
    ck_assert_uint_eq(length, 3);
    ck_assert(strncmp(device, "d-7", 3) == 0);
    ck_assert(roda_mqtt_topic_device("site/+/{device}", "site/north/pump2", &device, &length));
    ck_assert(strncmp(device, "pump2", length) == 0 && length == 5);
    ck_assert(!roda_mqtt_topic_device("roda/{device}/readings", "roda/d/other", &device, &length));
    ck_assert(!roda_mqtt_topic_device("roda/{device}/readings", "roda/d", &device, &length));
    ck_assert(
        !roda_mqtt_topic_device("roda/{device}/readings", "roda/d/readings/x", &device, &length));
    ck_assert(!roda_mqtt_topic_device("roda/{device}", "other/d", &device, &length));
    ck_assert(roda_mqtt_pattern_valid("roda/{device}/readings"));
    ck_assert(!roda_mqtt_pattern_valid("roda/+/readings"));
    ck_assert(!roda_mqtt_pattern_valid("{device}/{device}"));
    ck_assert(!roda_mqtt_pattern_valid("roda/{device}/#"));
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("devices");
    TCase *tc = tcase_create("devices");
    tcase_add_test(tc, interning_is_stable_and_bounded);
    tcase_add_test(tc, names_must_be_label_safe);
    tcase_add_test(tc, sequence_verdicts);
    tcase_add_test(tc, reordered_batches_are_not_duplicates);
    tcase_add_test(tc, sequence_absent_or_hostile);
    tcase_add_test(tc, topic_pattern);
    suite_add_tcase(suite, tc);
    TCase *file = tcase_create("file");
    tcase_add_test(file, reopen_restores_names_indexes_and_positions);
    tcase_add_test(file, untrusted_files_are_discarded);
    tcase_add_test(file, the_file_survives_a_sigkill);
    suite_add_tcase(suite, file);
    return roda_check_run(suite);
}
