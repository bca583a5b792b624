/* roda_window_box.c - the window question box between an HTTP thread and the rules stage. */
#include "roda_window_box.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roda_idle.h"

enum { BOX_IDLE = 0, BOX_PENDING = 1, BOX_DONE = 2 };

size_t roda_window_box_memory(uint32_t capacity)
{
    return (size_t)capacity * sizeof(roda_window_box_entry_t);
}

roda_result_t roda_window_box_init(roda_window_box_t *box, uint32_t capacity)
{
    memset(box, 0, sizeof *box);
    if (capacity == 0)
        return RODA_ERROR_INVALID_ARG;
    if (pthread_mutex_init(&box->lock, NULL) != 0)
        return RODA_ERROR_STATE;
    box->entries = calloc(capacity, sizeof *box->entries);
    if (box->entries == NULL) {
        pthread_mutex_destroy(&box->lock);
        return RODA_ERROR_NOMEM;
    }
    box->capacity = capacity;
    atomic_init(&box->state, BOX_IDLE);
    return RODA_SUCCESS;
}

void roda_window_box_destroy(roda_window_box_t *box)
{
    if (box->entries == NULL)
        return;
    pthread_mutex_destroy(&box->lock);
    free(box->entries);
    box->entries = NULL;
}

bool roda_window_box_begin(roda_window_box_t *box)
{
    pthread_mutex_lock(&box->lock);
    if (atomic_load_explicit(&box->state, memory_order_acquire) == BOX_PENDING) {
        pthread_mutex_unlock(&box->lock);
        return false;
    }
    /* An answer nobody waited for is dropped. */
    atomic_store_explicit(&box->state, BOX_IDLE, memory_order_relaxed);
    box->asked = 0;
    return true;
}

bool roda_window_box_add(roda_window_box_t *box, uint64_t sensor_id, uint32_t device)
{
    if (box->asked == box->capacity)
        return false;
    box->entries[box->asked++] =
        (roda_window_box_entry_t){.sensor_id = sensor_id, .device = device};
    return true;
}

uint32_t roda_window_box_wait(roda_window_box_t *box, uint64_t deadline_ns)
{
    if (box->asked == 0)
        return 0;
    box->answered = 0;
    atomic_store_explicit(&box->state, BOX_PENDING, memory_order_release);
    while (atomic_load_explicit(&box->state, memory_order_acquire) != BOX_DONE) {
        if (roda_now_ns() >= deadline_ns)
            return 0;
        struct timespec pause = {0, 1000000L};
        nanosleep(&pause, NULL);
    }
    return box->asked;
}

const roda_window_box_entry_t *roda_window_box_entry(const roda_window_box_t *box, uint32_t i)
{
    return &box->entries[i];
}

void roda_window_box_end(roda_window_box_t *box)
{
    pthread_mutex_unlock(&box->lock);
}

void roda_window_box_answer(roda_window_box_t *box, roda_window_box_fn fn, void *context,
                            uint32_t max)
{
    if (box->entries == NULL ||
        atomic_load_explicit(&box->state, memory_order_acquire) != BOX_PENDING)
        return;
    uint32_t end = box->asked - box->answered > max ? box->answered + max : box->asked;
    for (uint32_t i = box->answered; i < end; i++) {
        roda_window_box_entry_t *e = &box->entries[i];
        e->windows = fn(context, e->sensor_id, box->specs, e->stats, RODA_RULES_WINDOWS);
    }
    box->answered = end;
    if (end == box->asked)
        atomic_store_explicit(&box->state, BOX_DONE, memory_order_release);
}
