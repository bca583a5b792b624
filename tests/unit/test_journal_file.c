/* test_journal_file.c - the file-backed journal: geometry checks, rollover and retention, restart,
 * reopening read-only after a normal exit and after SIGKILL, and corrupt segment files. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "roda_check.h"
#include "../journal/journal_record.h"
#include "roda_journal.h"
#include "roda_journal_file.h"

extern char **environ;

static char directory[64];

static void make_directory(void)
{
    strcpy(directory, "/tmp/roda-journal-file-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(directory));
}

static void remove_directory(void)
{
    DIR *dir = opendir(directory);
    if (dir == NULL)
        return;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL)
        if (entry->d_name[0] != '.')
            unlinkat(dirfd(dir), entry->d_name, 0);
    closedir(dir);
    rmdir(directory);
}

static roda_journal_config_t file_config(void)
{
    return (roda_journal_config_t){.capacity = TEST_CAPACITY,
                                   .record_size = sizeof(test_record_t),
                                   .policy = RODA_JOURNAL_REJECT,
                                   .directory = directory,
                                   .segment_records = TEST_SEGMENT_RECORDS,
                                   .retained_segments = TEST_RETAINED};
}

static roda_journal_t *open_journal(void)
{
    roda_journal_config_t config = file_config();
    roda_journal_t *journal = NULL;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_SUCCESS);
    return journal;
}

static void append(roda_journal_t *journal, uint64_t count)
{
    for (uint64_t i = 0; i < count; i++) {
        test_record_t record = test_record_make(journal->claim_position);
        ck_assert_int_eq(roda_journal_append(journal, &record), RODA_SUCCESS);
    }
}

static int count_segment_files(void)
{
    DIR *dir = opendir(directory);
    ck_assert_ptr_nonnull(dir);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        size_t length = strlen(entry->d_name);
        count += length > 4 && strcmp(entry->d_name + length - 4, ".rjs") == 0;
    }
    closedir(dir);
    return count;
}

static void segment_path(char *path, size_t size, uint64_t first)
{
    snprintf(path, size, "%s/%020" PRIu64 ".rjs", directory, first);
}

static int segment_exists(uint64_t first)
{
    char path[128];
    segment_path(path, sizeof(path), first);
    return access(path, F_OK) == 0;
}

/* Reopens the directory read-only and checks every record from `first` to `end`. */
static void check_replay(uint64_t first, uint64_t end)
{
    roda_journal_replay_t *replay = NULL;
    ck_assert_int_eq(roda_journal_open_readonly(directory, &replay), RODA_SUCCESS);
    ck_assert_uint_eq(roda_journal_replay_first(replay), first);
    ck_assert_uint_eq(roda_journal_replay_end(replay), end);
    ck_assert_uint_eq(roda_journal_replay_record_size(replay), sizeof(test_record_t));
    uint64_t expected = first;
    roda_journal_view_t view;
    while (roda_journal_replay_next(replay, 100, &view) > 0) {
        ck_assert_uint_eq(view.position, expected);
        ck_assert_uint_eq(view.run_count[1], 0);
        const test_record_t *records = view.run[0];
        for (uint64_t i = 0; i < view.count; i++, expected++)
            ck_assert_msg(test_record_valid(&records[i], expected), "record %" PRIu64, expected);
    }
    ck_assert_uint_eq(expected, end);
    roda_journal_replay_close(replay);
}

START_TEST(bad_geometry_is_refused)
{
    make_directory();
    roda_journal_t *journal = (roda_journal_t *)1;
    roda_journal_config_t config = file_config();
    config.segment_records = 300; /* not a power of two */
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_ERROR_INVALID_ARG);
    ck_assert_ptr_null(journal);
    config.segment_records = TEST_CAPACITY; /* one segment per ring */
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_ERROR_INVALID_ARG);
    config.segment_records = 128; /* 2048 bytes: not a page multiple */
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_ERROR_INVALID_ARG);
    config.segment_records = TEST_SEGMENT_RECORDS;
    config.retained_segments = 3; /* fewer than the four windows of the ring */
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(count_segment_files(), 0);
    /* A directory that cannot be created: a path below a regular file. */
    char path[128];
    snprintf(path, sizeof(path), "%s/file", directory);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    snprintf(path, sizeof(path), "%s/file/journal", directory);
    config = file_config();
    config.directory = path;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_ERROR_IO);
    ck_assert_int_eq(errno, ENOTDIR);
    unlink(path);
    snprintf(path, sizeof(path), "%s/file", directory);
    unlink(path);
    /* A directory holding segments of another record size. */
    config = file_config();
    roda_journal_t *first = open_journal();
    append(first, 10);
    roda_journal_destroy(first);
    config.record_size = 32;
    config.segment_records = 128;
    config.retained_segments = 8; /* valid geometry on its own: the directory is what differs */
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_ERROR_INVALID_ARG);
    ck_assert_str_eq(roda_journal_error_detail(), "directory holds records of schema 0 (16 bytes); "
                                                  "this journal writes schema 0 (32 bytes)");
    remove_directory();
}
END_TEST

static void *detail_of_another_thread(void *unused)
{
    (void)unused;
    return (void *)roda_journal_error_detail();
}

START_TEST(the_schema_is_stored_checked_and_replayed)
{
    make_directory();
    roda_journal_config_t config = file_config();
    config.schema = 2;
    roda_journal_t *journal = NULL;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_SUCCESS);
    append(journal, 300);
    roda_journal_destroy(journal);
    /* Another schema of the same record size is another layout: refused, and said so. */
    config.schema = 1;
    journal = (roda_journal_t *)1;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_ERROR_INVALID_ARG);
    ck_assert_ptr_null(journal);
    ck_assert_str_eq(roda_journal_error_detail(), "directory holds records of schema 2 (16 bytes); "
                                                  "this journal writes schema 1 (16 bytes)");
    /* The detail belongs to this thread: another one sees none. */
    pthread_t thread;
    void *other;
    ck_assert_int_eq(pthread_create(&thread, NULL, detail_of_another_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(thread, &other), 0);
    ck_assert_str_eq(other, "");
    /* The read-only replay gives the schema back; a success clears the detail. */
    roda_journal_replay_t *replay = NULL;
    ck_assert_int_eq(roda_journal_open_readonly(directory, &replay), RODA_SUCCESS);
    ck_assert_str_eq(roda_journal_error_detail(), "");
    ck_assert_uint_eq(roda_journal_replay_schema(replay), 2);
    ck_assert_uint_eq(roda_journal_replay_end(replay), 300);
    roda_journal_replay_close(replay);
    /* The same schema continues the directory. */
    config.schema = 2;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_SUCCESS);
    ck_assert_uint_eq(journal->start_position, 300);
    roda_journal_destroy(journal);
    remove_directory();
}
END_TEST

START_TEST(rolls_over_and_keeps_the_retained_segments)
{
    make_directory();
    roda_journal_t *journal = open_journal();
    ck_assert_int_eq(count_segment_files(), 1);
    roda_journal_reader_t reader;
    ck_assert_int_eq(roda_journal_reader_open(journal, &reader), RODA_SUCCESS);
    /* Ten full segments and one record of the eleventh, read along through the ring windows. */
    uint64_t total = 10 * TEST_SEGMENT_RECORDS + 1, next = 0;
    while (journal->claim_position < total) {
        append(journal, roda_journal_min_u64(100, total - journal->claim_position));
        roda_journal_view_t view;
        uint64_t count;
        while ((count = roda_journal_peek(&reader, 64, &view)) > 0) {
            for (int run = 0; run < 2; run++) {
                const test_record_t *records = view.run[run];
                for (uint64_t i = 0; i < view.run_count[run]; i++, next++)
                    ck_assert(test_record_valid(&records[i], next));
            }
            roda_journal_consume(&reader, count);
        }
        /* Never more files than retained, even in the middle of the run. */
        ck_assert_int_le(count_segment_files(), TEST_RETAINED);
    }
    ck_assert_uint_eq(next, total);
    ck_assert_int_eq(count_segment_files(), TEST_RETAINED);
    ck_assert(!segment_exists(4 * TEST_SEGMENT_RECORDS));
    ck_assert(segment_exists(5 * TEST_SEGMENT_RECORDS));
    ck_assert(segment_exists(10 * TEST_SEGMENT_RECORDS));
    ck_assert_int_eq(roda_journal_sync(journal), RODA_SUCCESS);
    /* Read beside the live writer, then after it is gone. */
    check_replay(5 * TEST_SEGMENT_RECORDS, total);
    roda_journal_reader_close(&reader);
    roda_journal_destroy(journal);
    check_replay(5 * TEST_SEGMENT_RECORDS, total);
    remove_directory();
}
END_TEST

START_TEST(roll_waits_until_no_reader_needs_the_window)
{
    make_directory();
    roda_journal_t *journal = open_journal();
    roda_journal_reader_t reader;
    ck_assert_int_eq(roda_journal_reader_open(journal, &reader), RODA_SUCCESS);
    append(journal, TEST_CAPACITY);
    test_record_t record = test_record_make(TEST_CAPACITY);
    ck_assert_int_eq(roda_journal_append(journal, &record), RODA_FULL);
    ck_assert_int_eq(count_segment_files(), 4);
    /* The next segment takes the window of positions 0..255: the reader must be past all. */
    roda_journal_view_t view;
    ck_assert_uint_eq(roda_journal_peek(&reader, TEST_SEGMENT_RECORDS - 1, &view),
                      TEST_SEGMENT_RECORDS - 1);
    roda_journal_consume(&reader, TEST_SEGMENT_RECORDS - 1);
    ck_assert_int_eq(roda_journal_append(journal, &record), RODA_FULL);
    ck_assert_uint_eq(roda_journal_peek(&reader, 1, &view), 1);
    roda_journal_consume(&reader, 1);
    ck_assert_int_eq(roda_journal_append(journal, &record), RODA_SUCCESS);
    ck_assert_int_eq(count_segment_files(), 5);
    roda_journal_stats_t stats;
    roda_journal_stats(journal, &stats);
    ck_assert_uint_eq(stats.rejected, 2);
    roda_journal_reader_close(&reader);
    roda_journal_destroy(journal);
    check_replay(0, TEST_CAPACITY + 1);
    remove_directory();
}
END_TEST

START_TEST(restart_continues_after_the_last_committed_position)
{
    make_directory();
    roda_journal_t *journal = open_journal();
    append(journal, 300);
    roda_journal_destroy(journal);

    /* The last segment has room: writing goes on in it, and the records before are mapped. */
    journal = open_journal();
    roda_journal_stats_t stats;
    roda_journal_stats(journal, &stats);
    ck_assert_uint_eq(stats.write_position, 300);
    ck_assert_uint_eq(stats.appended, 0);
    ck_assert_int_eq(count_segment_files(), 2);
    roda_journal_tail_t tail;
    uint64_t missed = 1;
    ck_assert_int_eq(roda_journal_tail_open_at(journal, 10, &tail, &missed), RODA_SUCCESS);
    ck_assert_uint_eq(missed, 0);
    roda_journal_view_t view;
    ck_assert_uint_eq(roda_journal_tail_peek(&tail, 1000, &view), 290);
    for (int run = 0; run < 2; run++)
        for (uint64_t i = 0; i < view.run_count[run]; i++)
            ck_assert(test_record_valid((const test_record_t *)view.run[run] + i,
                                        10 + (run ? view.run_count[0] : 0) + i));
    ck_assert_uint_eq(roda_journal_tail_consume(&tail, 290), 0);
    append(journal, 212); /* fills the second segment exactly: 512 */
    roda_journal_destroy(journal);

    /* The last segment is full: a new one starts at 512. */
    journal = open_journal();
    ck_assert_uint_eq(atomic_load(&journal->write_position), 512);
    ck_assert_int_eq(count_segment_files(), 3);
    append(journal, 100);
    roda_journal_destroy(journal);
    check_replay(0, 612);
    remove_directory();
}
END_TEST

START_TEST(restart_applies_a_smaller_retention)
{
    make_directory();
    roda_journal_t *journal = open_journal();
    append(journal, 5 * TEST_SEGMENT_RECORDS + 10);
    roda_journal_destroy(journal);
    ck_assert_int_eq(count_segment_files(), 6);
    roda_journal_config_t config = file_config();
    config.retained_segments = 4;
    ck_assert_int_eq(roda_journal_create(&config, &journal), RODA_SUCCESS);
    ck_assert_int_eq(count_segment_files(), 4);
    append(journal, 10);
    roda_journal_destroy(journal);
    check_replay(2 * TEST_SEGMENT_RECORDS, 5 * TEST_SEGMENT_RECORDS + 20);
    remove_directory();
}
END_TEST

/* Seeks to `position` and reads every record from there to the end. */
static void check_from(roda_journal_replay_t *replay, uint64_t position)
{
    ck_assert_int_eq(roda_journal_replay_seek(replay, position), RODA_SUCCESS);
    ck_assert_uint_eq(roda_journal_replay_position(replay), position);
    uint64_t expected = position;
    roda_journal_view_t view;
    while (roda_journal_replay_next(replay, 100, &view) > 0) {
        ck_assert_uint_eq(view.position, expected);
        const test_record_t *records = view.run[0];
        for (uint64_t i = 0; i < view.count; i++, expected++)
            ck_assert_msg(test_record_valid(&records[i], expected), "record %" PRIu64, expected);
    }
    ck_assert_uint_eq(expected, roda_journal_replay_end(replay));
}

START_TEST(seek_reads_from_any_retained_position)
{
    make_directory();
    roda_journal_t *journal = open_journal();
    uint64_t total = 10 * TEST_SEGMENT_RECORDS + 7;
    append(journal, total);
    roda_journal_destroy(journal);
    roda_journal_replay_t *replay = NULL;
    ck_assert_int_eq(roda_journal_open_readonly(directory, &replay), RODA_SUCCESS);
    uint64_t first = roda_journal_replay_first(replay);
    ck_assert_uint_eq(first, 5 * TEST_SEGMENT_RECORDS); /* older segments were deleted */
    ck_assert_uint_eq(roda_journal_replay_position(replay), first);
    /* Segment starts and ends, the middle of one, backwards after reading to the end. */
    uint64_t positions[] = {first + 1,
                            7 * TEST_SEGMENT_RECORDS,
                            7 * TEST_SEGMENT_RECORDS - 1,
                            8 * TEST_SEGMENT_RECORDS + 100,
                            total - 1,
                            first,
                            10 * TEST_SEGMENT_RECORDS};
    for (size_t i = 0; i < sizeof(positions) / sizeof(positions[0]); i++)
        check_from(replay, positions[i]);
    /* The end itself is a valid position: nothing left to read. */
    ck_assert_int_eq(roda_journal_replay_seek(replay, total), RODA_SUCCESS);
    roda_journal_view_t view;
    ck_assert_uint_eq(roda_journal_replay_next(replay, 100, &view), 0);
    /* Outside first .. end: refused, and the position stays where it was. */
    ck_assert_int_eq(roda_journal_replay_seek(replay, first + 3), RODA_SUCCESS);
    ck_assert_int_eq(roda_journal_replay_seek(replay, first - 1), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_journal_replay_seek(replay, 0), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_journal_replay_seek(replay, total + 1), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_journal_replay_seek(replay, UINT64_MAX), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_journal_replay_seek(NULL, first), RODA_ERROR_INVALID_ARG);
    ck_assert_uint_eq(roda_journal_replay_position(replay), first + 3);
    check_from(replay, first + 3);
    roda_journal_replay_close(replay);
    remove_directory();
}
END_TEST

START_TEST(a_failed_roll_is_an_error_and_is_retried)
{
    make_directory();
    roda_journal_t *journal = open_journal();
    append(journal, TEST_SEGMENT_RECORDS);
    /* Files may not grow to a segment's size: the next segment cannot be reserved. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit saved, small;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = RODA_JOURNAL_SEGMENT_HEADER;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    test_record_t record = test_record_make(TEST_SEGMENT_RECORDS);
    ck_assert_int_eq(roda_journal_append(journal, &record), RODA_ERROR_IO);
    ck_assert_int_eq(errno, EFBIG);
    ck_assert_int_eq(count_segment_files(), 1);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
    /* Nothing was lost or half-done: the next append rolls and goes on. */
    append(journal, 10);
    roda_journal_destroy(journal);
    check_replay(0, TEST_SEGMENT_RECORDS + 10);
    remove_directory();
}
END_TEST

START_TEST(a_leftover_partial_segment_is_removed)
{
    make_directory();
    roda_journal_t *journal = open_journal();
    append(journal, 20);
    roda_journal_destroy(journal);
    char path[128];
    snprintf(path, sizeof(path), "%s/%020u.rjs.tmp", directory, TEST_SEGMENT_RECORDS);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    check_replay(0, 20); /* ignored by readers */
    journal = open_journal();
    ck_assert_int_ne(access(path, F_OK), 0);
    roda_journal_destroy(journal);
    remove_directory();
}
END_TEST

/* Files of other names in the directory (the gateway's device registry, devices.rdd, and its
 * partial devices.rdd.tmp) are neither segments nor partial segments: the scan, the restart and
 * the readers leave them alone. */
START_TEST(other_files_are_ignored)
{
    make_directory();
    roda_journal_t *journal = open_journal();
    append(journal, 20);
    roda_journal_destroy(journal);
    const char *const names[] = {"devices.rdd", "devices.rdd.tmp"};
    char path[2][128];
    for (int i = 0; i < 2; i++) {
        snprintf(path[i], sizeof(path[i]), "%s/%s", directory, names[i]);
        int fd = open(path[i], O_CREAT | O_WRONLY, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "not a segment", 13), 13);
        close(fd);
    }
    check_replay(0, 20);
    journal = open_journal();
    ck_assert_uint_eq(atomic_load(&journal->write_position), 20);
    append(journal, 5);
    roda_journal_destroy(journal);
    check_replay(0, 25);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(access(path[i], F_OK), 0);
    remove_directory();
}
END_TEST

/* ---- A writer process: normal exit and SIGKILL ------------------------------------------ */

/* Starts journal_writer and reads its "committed N" line. */
static pid_t start_writer(uint64_t records, const char *mode, uint64_t *committed)
{
    int pipe_fds[2];
    ck_assert_int_eq(pipe(pipe_fds), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    char count[32];
    snprintf(count, sizeof(count), "%" PRIu64, records);
    char *argv[] = {RODA_JOURNAL_WRITER, directory, count, (char *)mode, NULL};
    pid_t pid;
    ck_assert_int_eq(posix_spawn(&pid, RODA_JOURNAL_WRITER, &actions, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    FILE *out = fdopen(pipe_fds[0], "r");
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(fscanf(out, "committed %" SCNu64, committed), 1);
    fclose(out);
    return pid;
}

static void kill_writer(pid_t pid)
{
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

START_TEST(reopened_after_the_writer_exits)
{
    make_directory();
    uint64_t committed;
    pid_t pid = start_writer(1000, "exit", &committed);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_uint_eq(committed, 1000);
    check_replay(0, 1000);
    /* A second run continues the same trail. */
    pid = start_writer(500, "exit", &committed);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_uint_eq(committed, 1500);
    check_replay(0, 1500);
    remove_directory();
}
END_TEST

START_TEST(reopened_after_the_writer_is_killed)
{
    make_directory();
    uint64_t committed;
    kill_writer(start_writer(777, "hang", &committed));
    ck_assert_uint_eq(committed, 777);
    check_replay(0, 777);
    /* Restart after the crash: appending continues right after the committed records. */
    roda_journal_t *journal = open_journal();
    ck_assert_uint_eq(journal->claim_position, 777);
    append(journal, 100);
    roda_journal_destroy(journal);
    check_replay(0, 877);
    remove_directory();
}
END_TEST

START_TEST(killed_while_appending_keeps_every_committed_record)
{
    make_directory();
    uint64_t committed;
    pid_t pid = start_writer(600, "run", &committed);
    ck_assert_uint_eq(committed, 600);
    struct timespec pause = {.tv_nsec = 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    kill_writer(pid);
    roda_journal_replay_t *replay;
    ck_assert_int_eq(roda_journal_open_readonly(directory, &replay), RODA_SUCCESS);
    uint64_t first = roda_journal_replay_first(replay), end = roda_journal_replay_end(replay);
    roda_journal_replay_close(replay);
    ck_assert_uint_ge(end, committed);
    ck_assert_int_le(count_segment_files(), TEST_RETAINED);
    check_replay(first, end);
    roda_journal_t *journal = open_journal();
    ck_assert_uint_eq(journal->claim_position, end);
    append(journal, 10);
    roda_journal_destroy(journal);
    check_replay(first, end + 10);
    remove_directory();
}
END_TEST

/* ---- Corrupt directories -------------------------------------------------------------------- */

/* Three segments: 0 and 256 full, 512 holding 88 records. */
static void make_valid_journal(void)
{
    make_directory();
    roda_journal_t *journal = open_journal();
    append(journal, 600);
    roda_journal_destroy(journal);
}

static void read_header(uint64_t first, roda_journal_segment_header_t *header)
{
    char path[128];
    segment_path(path, sizeof(path), first);
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, header, sizeof(*header), 0), sizeof(*header));
    close(fd);
}

static void write_at(uint64_t first, const void *bytes, size_t size, off_t offset)
{
    char path[128];
    segment_path(path, sizeof(path), first);
    int fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, bytes, size, offset), (ssize_t)size);
    close(fd);
}

/* Both the read-only open and a writer's restart refuse the directory with `expected`, and say
 * why in `detail`. */
static void expect_refused(roda_result_t expected, const char *detail)
{
    roda_journal_replay_t *replay = (roda_journal_replay_t *)1;
    ck_assert_int_eq(roda_journal_open_readonly(directory, &replay), expected);
    ck_assert_ptr_null(replay);
    ck_assert_str_eq(roda_journal_error_detail(), detail);
    roda_journal_config_t config = file_config();
    roda_journal_t *journal = (roda_journal_t *)1;
    ck_assert_int_eq(roda_journal_create(&config, &journal), expected);
    ck_assert_ptr_null(journal);
    ck_assert_str_eq(roda_journal_error_detail(), detail);
    remove_directory();
}

START_TEST(bad_magic_is_corrupt)
{
    make_valid_journal();
    write_at(256, "NOTRODA!", 8, 0);
    expect_refused(RODA_ERROR_CORRUPT,
                   "00000000000000000256.rjs: offset 0: bad magic (not a Roda journal segment)");
}
END_TEST

START_TEST(wrong_version_is_corrupt)
{
    make_valid_journal();
    roda_journal_segment_header_t header;
    read_header(256, &header);
    header.version = RODA_JOURNAL_SEGMENT_VERSION + 1;
    header.checksum = roda_journal_file_header_checksum(&header);
    write_at(256, &header, sizeof(header), 0);
    expect_refused(RODA_ERROR_CORRUPT,
                   "00000000000000000256.rjs: offset 8: format version 3, this build reads 2");
}
END_TEST

START_TEST(a_version_1_segment_is_refused)
{
    /* Version 1 had no schema; the checksum does not matter, the version is checked first. */
    make_valid_journal();
    roda_journal_segment_header_t header;
    read_header(0, &header);
    header.version = 1;
    header.schema = 0;
    write_at(0, &header, sizeof(header), 0);
    expect_refused(RODA_ERROR_CORRUPT,
                   "00000000000000000000.rjs: offset 8: format version 1, this build reads 2");
}
END_TEST

START_TEST(checksum_mismatch_is_corrupt)
{
    make_valid_journal();
    roda_journal_segment_header_t header;
    read_header(0, &header);
    header.checksum ^= 1;
    write_at(0, &header, sizeof(header), 0);
    expect_refused(RODA_ERROR_CORRUPT,
                   "00000000000000000000.rjs: offset 40: header checksum mismatch");
}
END_TEST

START_TEST(truncated_segment_is_corrupt)
{
    make_valid_journal();
    char path[128];
    segment_path(path, sizeof(path), 256);
    ck_assert_int_eq(truncate(path, RODA_JOURNAL_SEGMENT_HEADER + 100), 0);
    expect_refused(RODA_ERROR_CORRUPT, "00000000000000000256.rjs: file size 4196, header says "
                                       "4096 + 256 x 16 bytes (truncated)");
}
END_TEST

START_TEST(inconsistent_record_size_is_corrupt)
{
    /* 32-byte records, 128 per segment: a valid header and the right file size on its own. */
    make_valid_journal();
    roda_journal_segment_header_t header;
    read_header(512, &header);
    header.record_size = 32;
    header.segment_records = 128;
    header.checksum = roda_journal_file_header_checksum(&header);
    write_at(512, &header, sizeof(header), 0);
    expect_refused(RODA_ERROR_CORRUPT,
                   "00000000000000000512.rjs: records of 32 bytes, the other segments have 16");
}
END_TEST

START_TEST(inconsistent_schema_is_corrupt)
{
    make_valid_journal();
    roda_journal_segment_header_t header;
    read_header(512, &header);
    header.schema = 7;
    header.checksum = roda_journal_file_header_checksum(&header);
    write_at(512, &header, sizeof(header), 0);
    expect_refused(RODA_ERROR_CORRUPT,
                   "00000000000000000512.rjs: schema 7, the directory's other segments have 0");
}
END_TEST

START_TEST(committed_beyond_the_segment_is_corrupt)
{
    make_valid_journal();
    roda_journal_segment_header_t header;
    read_header(512, &header);
    atomic_store(&header.committed_position, 512 + TEST_SEGMENT_RECORDS + 1);
    write_at(512, &header, sizeof(header), 0);
    expect_refused(RODA_ERROR_CORRUPT, "00000000000000000512.rjs: offset 64: committed position "
                                       "769 outside the segment 512 .. 768");
}
END_TEST

START_TEST(missing_middle_segment_is_corrupt)
{
    make_valid_journal();
    char path[128];
    segment_path(path, sizeof(path), 256);
    ck_assert_int_eq(unlink(path), 0);
    expect_refused(RODA_ERROR_CORRUPT, "hole: positions 256 to 512 missing between "
                                       "00000000000000000000.rjs and 00000000000000000512.rjs");
}
END_TEST

START_TEST(renamed_segment_is_corrupt)
{
    make_valid_journal();
    char from[128], to[128];
    segment_path(from, sizeof(from), 512);
    segment_path(to, sizeof(to), 768);
    ck_assert_int_eq(rename(from, to), 0);
    expect_refused(RODA_ERROR_CORRUPT, "00000000000000000768.rjs: offset 24: first position 512 "
                                       "does not match the file name");
}
END_TEST

START_TEST(empty_and_garbage_files_are_corrupt)
{
    make_valid_journal();
    char path[128];
    segment_path(path, sizeof(path), 768);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    expect_refused(RODA_ERROR_CORRUPT,
                   "00000000000000000768.rjs: file size 0, shorter than a header (truncated)");

    make_valid_journal();
    char garbage[RODA_JOURNAL_SEGMENT_HEADER + TEST_SEGMENT_RECORDS * sizeof(test_record_t)];
    for (size_t i = 0; i < sizeof(garbage); i++)
        garbage[i] = (char)(i * 131 + 7);
    segment_path(path, sizeof(path), 768);
    fd = open(path, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, garbage, sizeof(garbage)), (ssize_t)sizeof(garbage));
    close(fd);
    expect_refused(RODA_ERROR_CORRUPT,
                   "00000000000000000768.rjs: offset 0: bad magic (not a Roda journal segment)");

    /* A name too large for a position. */
    make_valid_journal();
    snprintf(path, sizeof(path), "%s/99999999999999999999.rjs", directory);
    fd = open(path, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    expect_refused(RODA_ERROR_CORRUPT,
                   "99999999999999999999.rjs: the name is beyond the largest position");
}
END_TEST

START_TEST(a_directory_without_segments_is_an_error)
{
    make_directory();
    roda_journal_replay_t *replay = (roda_journal_replay_t *)1;
    ck_assert_int_eq(roda_journal_open_readonly(directory, &replay), RODA_ERROR_IO);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_ptr_null(replay);
    ck_assert_str_eq(roda_journal_error_detail(), "no segment file (*.rjs) in the directory");
    remove_directory();
    ck_assert_int_eq(roda_journal_open_readonly(directory, &replay), RODA_ERROR_IO);
    ck_assert_int_eq(roda_journal_open_readonly(NULL, &replay), RODA_ERROR_INVALID_ARG);
}
END_TEST

Suite *journal_file_suite(void)
{
    Suite *suite = suite_create("journal_file");
    TCase *files = tcase_create("files");
    tcase_add_test(files, bad_geometry_is_refused);
    tcase_add_test(files, rolls_over_and_keeps_the_retained_segments);
    tcase_add_test(files, roll_waits_until_no_reader_needs_the_window);
    tcase_add_test(files, restart_continues_after_the_last_committed_position);
    tcase_add_test(files, restart_applies_a_smaller_retention);
    tcase_add_test(files, seek_reads_from_any_retained_position);
    tcase_add_test(files, a_failed_roll_is_an_error_and_is_retried);
    tcase_add_test(files, a_leftover_partial_segment_is_removed);
    tcase_add_test(files, other_files_are_ignored);
    tcase_add_test(files, the_schema_is_stored_checked_and_replayed);
    suite_add_tcase(suite, files);
    TCase *process = tcase_create("writer-process");
    tcase_add_test(process, reopened_after_the_writer_exits);
    tcase_add_test(process, reopened_after_the_writer_is_killed);
    tcase_add_test(process, killed_while_appending_keeps_every_committed_record);
    suite_add_tcase(suite, process);
    TCase *corrupt = tcase_create("corrupt");
    tcase_add_test(corrupt, bad_magic_is_corrupt);
    tcase_add_test(corrupt, wrong_version_is_corrupt);
    tcase_add_test(corrupt, a_version_1_segment_is_refused);
    tcase_add_test(corrupt, checksum_mismatch_is_corrupt);
    tcase_add_test(corrupt, truncated_segment_is_corrupt);
    tcase_add_test(corrupt, inconsistent_record_size_is_corrupt);
    tcase_add_test(corrupt, inconsistent_schema_is_corrupt);
    tcase_add_test(corrupt, committed_beyond_the_segment_is_corrupt);
    tcase_add_test(corrupt, missing_middle_segment_is_corrupt);
    tcase_add_test(corrupt, renamed_segment_is_corrupt);
    tcase_add_test(corrupt, empty_and_garbage_files_are_corrupt);
    tcase_add_test(corrupt, a_directory_without_segments_is_an_error);
    suite_add_tcase(suite, corrupt);
    return suite;
}

int main(void)
{
    return roda_check_run(journal_file_suite());
}
