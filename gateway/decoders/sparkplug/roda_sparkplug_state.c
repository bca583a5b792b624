/* roda_sparkplug_state.c - the host application's state per edge node and device: scopes,
 * metric definitions from BIRTH certificates, sequence, bdSeq, rebirth (see roda_sparkplug.h).
 *
 * Memory, all allocated at creation: the scopes (ids copied in) with an open-addressing index
 * of 2 * max_scopes rounded up to a power of two; the definitions (name copied in) with two
 * such indexes, by (scope, alias) and by (scope, name), linear probing with backward-shift
 * deletion so a rebirth leaves no tombstones. A scope links its definitions and a node its
 * devices; free definitions form a list. Slots hold index + 1 (0: empty). */
#include "roda_sparkplug.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

typedef struct scope {
    uint32_t node;        /* its edge node (itself for a node) */
    uint32_t first_child; /* a node's devices */
    uint32_t next_sibling;
    uint32_t first_definition;
    uint64_t bdseq;
    uint8_t is_device, born, incomplete, has_bdseq, seq_valid, last_seq;
    uint8_t rebirth_needed, rebirth_taken;
    uint8_t lengths[3];
    char ids[3][RODA_SPARKPLUG_ID_MAX + 1]; /* group, node, device */
} scope_t;

typedef struct definition {
    uint64_t alias;
    uint32_t scope;
    uint32_t datatype;
    uint32_t next; /* in its scope, or in the free list */
    uint32_t alias_hash, name_hash;
    uint8_t has_alias, name_length;
    char name[RODA_SPARKPLUG_METRIC_NAME_MAX + 1];
} definition_t;

struct roda_sparkplug_state {
    uint32_t max_scopes, scope_count, scope_mask, definition_mask, free_definition;
    scope_t *scopes;
    uint32_t *scope_index;
    definition_t *definitions;
    uint32_t *by_alias;
    uint32_t *by_name;
    roda_sparkplug_counters_t counters;
};

static uint32_t index_size(uint32_t capacity)
{
    uint32_t size = 2;
    while (size < 2 * (uint64_t)capacity)
        size <<= 1;
    return size;
}

uint64_t roda_sparkplug_state_memory(uint32_t max_scopes, uint32_t max_aliases)
{
    return sizeof(roda_sparkplug_state_t) + (uint64_t)max_scopes * sizeof(scope_t) +
           (uint64_t)index_size(max_scopes) * sizeof(uint32_t) +
           (uint64_t)max_aliases * sizeof(definition_t) +
           2 * (uint64_t)index_size(max_aliases) * sizeof(uint32_t);
}

roda_result_t roda_sparkplug_state_create(uint32_t max_scopes, uint32_t max_aliases,
                                          roda_sparkplug_state_t **out)
{
    *out = NULL;
    if (max_scopes == 0 || max_scopes > RODA_SPARKPLUG_MAX_SCOPES || max_aliases == 0 ||
        max_aliases > RODA_SPARKPLUG_MAX_ALIASES)
        return RODA_ERROR_INVALID_ARG;
    roda_sparkplug_state_t *state = calloc(1, sizeof(*state));
    if (state == NULL)
        return RODA_ERROR_NOMEM;
    state->max_scopes = max_scopes;
    state->scope_mask = index_size(max_scopes) - 1;
    state->definition_mask = index_size(max_aliases) - 1;
    state->scopes = calloc(max_scopes, sizeof(scope_t));
    state->scope_index = calloc((size_t)state->scope_mask + 1, sizeof(uint32_t));
    state->definitions = calloc(max_aliases, sizeof(definition_t));
    state->by_alias = calloc((size_t)state->definition_mask + 1, sizeof(uint32_t));
    state->by_name = calloc((size_t)state->definition_mask + 1, sizeof(uint32_t));
    if (state->scopes == NULL || state->scope_index == NULL || state->definitions == NULL ||
        state->by_alias == NULL || state->by_name == NULL) {
        roda_sparkplug_state_destroy(state);
        return RODA_ERROR_NOMEM;
    }
    for (uint32_t i = 0; i < max_aliases; i++)
        state->definitions[i].next = i + 1 < max_aliases ? i + 1 : NONE;
    *out = state;
    return RODA_SUCCESS;
}

void roda_sparkplug_state_destroy(roda_sparkplug_state_t *state)
{
    if (state == NULL)
        return;
    free(state->scopes);
    free(state->scope_index);
    free(state->definitions);
    free(state->by_alias);
    free(state->by_name);
    free(state);
}

roda_sparkplug_counters_t roda_sparkplug_state_counters(const roda_sparkplug_state_t *state)
{
    return state->counters;
}

/* FNV-1a over `length` bytes, continuing from `hash`. */
static uint32_t fnv(uint32_t hash, const void *bytes, size_t length)
{
    const uint8_t *at = bytes;
    for (size_t i = 0; i < length; i++)
        hash = (hash ^ at[i]) * 16777619u;
    return hash;
}

static uint32_t fnv_u64(uint32_t hash, uint64_t value)
{
    uint8_t bytes[8];
    for (unsigned i = 0; i < 8; i++)
        bytes[i] = (uint8_t)(value >> (8 * i));
    return fnv(hash, bytes, sizeof(bytes));
}

/* ---- scopes ---- */

/* The scope of (group, node, device) (device_length 0: the node), added if new; NONE when full. */
static uint32_t scope_intern(roda_sparkplug_state_t *state, const roda_sparkplug_topic_t *t,
                             int device, uint32_t node)
{
    const char *ids[3] = {t->group, t->node, device ? t->device : ""};
    size_t lengths[3] = {t->group_length, t->node_length, device ? t->device_length : 0};
    uint32_t hash = 2166136261u;
    for (unsigned i = 0; i < 3; i++)
        hash = fnv(fnv_u64(hash, lengths[i]), ids[i], lengths[i]);
    uint32_t slot = hash & state->scope_mask;
    for (; state->scope_index[slot] != 0; slot = (slot + 1) & state->scope_mask) {
        scope_t *s = &state->scopes[state->scope_index[slot] - 1];
        unsigned same = 0;
        for (unsigned i = 0; i < 3; i++)
            same += s->lengths[i] == lengths[i] && memcmp(s->ids[i], ids[i], lengths[i]) == 0;
        if (same == 3)
            return state->scope_index[slot] - 1;
    }
    if (state->scope_count == state->max_scopes)
        return NONE;
    uint32_t index = state->scope_count++;
    scope_t *s = &state->scopes[index];
    for (unsigned i = 0; i < 3; i++) {
        memcpy(s->ids[i], ids[i], lengths[i]);
        s->lengths[i] = (uint8_t)lengths[i];
    }
    s->first_definition = NONE;
    s->first_child = NONE;
    s->next_sibling = NONE;
    s->node = device ? node : index;
    s->is_device = (uint8_t)device;
    if (device) {
        s->next_sibling = state->scopes[node].first_child;
        state->scopes[node].first_child = index;
    }
    state->scope_index[slot] = index + 1;
    return index;
}

int roda_sparkplug_state_alive(const roda_sparkplug_state_t *state, uint32_t scope)
{
    if (scope >= state->scope_count)
        return 0;
    const scope_t *s = &state->scopes[scope];
    return s->born && state->scopes[s->node].born;
}

int roda_sparkplug_state_rebirth_take(roda_sparkplug_state_t *state, uint32_t node)
{
    if (node >= state->scope_count)
        return 0;
    scope_t *s = &state->scopes[node];
    if (!s->rebirth_needed || s->rebirth_taken)
        return 0;
    s->rebirth_taken = 1;
    state->counters.rebirths++;
    return 1;
}

int roda_sparkplug_state_devices(const roda_sparkplug_state_t *state, uint32_t node,
                                 uint32_t *cursor, roda_sparkplug_topic_t *device)
{
    if (node >= state->scope_count)
        return 0;
    uint32_t next =
        *cursor == 0 ? state->scopes[node].first_child : state->scopes[*cursor - 1].next_sibling;
    if (next == NONE)
        return 0;
    const scope_t *s = &state->scopes[next];
    *device = (roda_sparkplug_topic_t){RODA_SPARKPLUG_DDEATH, s->ids[0], s->lengths[0], s->ids[1],
                                       s->lengths[1],         s->ids[2], s->lengths[2]};
    *cursor = next + 1;
    return 1;
}

/* ---- definitions ---- */

static uint32_t alias_hash(uint32_t scope, uint64_t alias)
{
    return fnv_u64(fnv_u64(2166136261u, scope), alias);
}

static uint32_t name_hash(uint32_t scope, const char *name, size_t length)
{
    return fnv(fnv_u64(2166136261u, scope), name, length);
}

static uint32_t definition_hash(const definition_t *d, int by_name)
{
    return by_name ? d->name_hash : d->alias_hash;
}

static void index_insert(roda_sparkplug_state_t *state, uint32_t *slots, uint32_t hash,
                         uint32_t definition)
{
    uint32_t slot = hash & state->definition_mask;
    while (slots[slot] != 0)
        slot = (slot + 1) & state->definition_mask;
    slots[slot] = definition + 1;
}

/* Removes `definition` from an index, moving later entries of its probe run back into the hole
 * (backward-shift deletion: no tombstones). */
static void index_remove(roda_sparkplug_state_t *state, uint32_t *slots, int by_name,
                         uint32_t definition)
{
    uint32_t mask = state->definition_mask;
    uint32_t hole = definition_hash(&state->definitions[definition], by_name) & mask;
    while (slots[hole] != definition + 1)
        hole = (hole + 1) & mask;
    for (uint32_t i = (hole + 1) & mask; slots[i] != 0; i = (i + 1) & mask) {
        uint32_t home = definition_hash(&state->definitions[slots[i] - 1], by_name) & mask;
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            slots[hole] = slots[i];
            hole = i;
        }
    }
    slots[hole] = 0;
}

static uint32_t find_alias(const roda_sparkplug_state_t *state, uint32_t scope, uint64_t alias)
{
    uint32_t mask = state->definition_mask;
    for (uint32_t slot = alias_hash(scope, alias) & mask; state->by_alias[slot] != 0;
         slot = (slot + 1) & mask) {
        const definition_t *d = &state->definitions[state->by_alias[slot] - 1];
        if (d->scope == scope && d->alias == alias)
            return state->by_alias[slot] - 1;
    }
    return NONE;
}

static uint32_t find_name(const roda_sparkplug_state_t *state, uint32_t scope, const char *name,
                          size_t length)
{
    uint32_t mask = state->definition_mask;
    for (uint32_t slot = name_hash(scope, name, length) & mask; state->by_name[slot] != 0;
         slot = (slot + 1) & mask) {
        const definition_t *d = &state->definitions[state->by_name[slot] - 1];
        if (d->scope == scope && d->name_length == length && memcmp(d->name, name, length) == 0)
            return state->by_name[slot] - 1;
    }
    return NONE;
}

/* Drops every definition of `scope` back to the free list. */
static void forget(roda_sparkplug_state_t *state, uint32_t scope)
{
    scope_t *s = &state->scopes[scope];
    while (s->first_definition != NONE) {
        uint32_t index = s->first_definition;
        definition_t *d = &state->definitions[index];
        s->first_definition = d->next;
        if (d->has_alias)
            index_remove(state, state->by_alias, 0, index);
        index_remove(state, state->by_name, 1, index);
        d->next = state->free_definition;
        state->free_definition = index;
    }
}

/* Adds one BIRTH metric as a definition of `scope`; 0 when it cannot be (counted). */
static int define(roda_sparkplug_state_t *state, uint32_t scope, const roda_sparkplug_metric_t *m)
{
    uint32_t needed = RODA_SPARKPLUG_HAS_NAME | RODA_SPARKPLUG_HAS_DATATYPE;
    if ((m->has & needed) != needed)
        return 0;
    if (m->name_length > RODA_SPARKPLUG_METRIC_NAME_MAX) {
        state->counters.names_too_long++;
        return 0;
    }
    int has_alias = (m->has & RODA_SPARKPLUG_HAS_ALIAS) != 0;
    if (has_alias && find_alias(state, scope, m->alias) != NONE)
        return 0; /* an alias defined twice in one BIRTH: the first stays */
    if (state->free_definition == NONE) {
        state->counters.aliases_full++;
        return 0;
    }
    uint32_t index = state->free_definition;
    definition_t *d = &state->definitions[index];
    state->free_definition = d->next;
    d->scope = scope;
    d->alias = m->alias;
    d->has_alias = (uint8_t)has_alias;
    d->datatype = m->datatype;
    d->name_length = (uint8_t)m->name_length;
    memcpy(d->name, m->name, m->name_length);
    d->name[m->name_length] = '\0';
    d->alias_hash = alias_hash(scope, m->alias);
    d->name_hash = name_hash(scope, m->name, m->name_length);
    if (has_alias)
        index_insert(state, state->by_alias, d->alias_hash, index);
    index_insert(state, state->by_name, d->name_hash, index);
    d->next = state->scopes[scope].first_definition;
    state->scopes[scope].first_definition = index;
    return 1;
}

static int is_bdseq(const roda_sparkplug_metric_t *m)
{
    size_t length = sizeof(RODA_SPARKPLUG_BDSEQ_METRIC) - 1;
    return (m->has & RODA_SPARKPLUG_HAS_NAME) && m->name_length == length &&
           memcmp(m->name, RODA_SPARKPLUG_BDSEQ_METRIC, length) == 0 &&
           (m->field == RODA_SPARKPLUG_FIELD_INT || m->field == RODA_SPARKPLUG_FIELD_LONG);
}

/* Replaces the definitions of `scope` with the BIRTH's metrics; records an NBIRTH's bdSeq. */
static void birth(roda_sparkplug_state_t *state, uint32_t scope, roda_sparkplug_payload_t *payload,
                  roda_sparkplug_verdict_t *verdict)
{
    scope_t *s = &state->scopes[scope];
    forget(state, scope);
    if (!s->is_device) {
        for (uint32_t child = s->first_child; child != NONE;
             child = state->scopes[child].next_sibling) {
            forget(state, child);
            state->scopes[child].born = 0;
        }
        s->has_bdseq = 0;
        s->rebirth_needed = 0;
        s->rebirth_taken = 0;
    }
    s->incomplete = 0;
    roda_sparkplug_metric_t m;
    roda_sparkplug_payload_rewind(payload);
    while (roda_sparkplug_payload_next(payload, &m)) {
        if (!s->is_device && is_bdseq(&m)) {
            s->bdseq = m.raw;
            s->has_bdseq = 1;
        }
        if (!define(state, scope, &m))
            s->incomplete = 1;
    }
    roda_sparkplug_payload_rewind(payload);
    s->born = 1;
    verdict->incomplete = s->incomplete;
    state->counters.births++;
}

/* An NDEATH: stale when its bdSeq is not the current NBIRTH's, else the node dies. */
static void node_death(roda_sparkplug_state_t *state, uint32_t node,
                       roda_sparkplug_payload_t *payload, roda_sparkplug_verdict_t *verdict)
{
    scope_t *s = &state->scopes[node];
    roda_sparkplug_metric_t m;
    int stale = 0;
    roda_sparkplug_payload_rewind(payload);
    while (roda_sparkplug_payload_next(payload, &m))
        if (is_bdseq(&m) && s->has_bdseq && m.raw != s->bdseq)
            stale = 1;
    roda_sparkplug_payload_rewind(payload);
    if (stale) {
        verdict->event = RODA_SPARKPLUG_STALE_DEATH;
        state->counters.stale_deaths++;
        return;
    }
    s->born = 0;
    verdict->event = RODA_SPARKPLUG_DIED;
    state->counters.deaths++;
}

/* The node's message sequence (every message but NDEATH). */
static void sequence(roda_sparkplug_state_t *state, scope_t *node, roda_sparkplug_type_t type,
                     const roda_sparkplug_payload_t *payload, roda_sparkplug_verdict_t *verdict)
{
    if (!payload->has_seq || payload->seq > 255) {
        state->counters.no_seq++;
        return;
    }
    uint8_t seq = (uint8_t)payload->seq;
    if (type != RODA_SPARKPLUG_NBIRTH && node->seq_valid) {
        uint8_t expected = (uint8_t)(node->last_seq + 1);
        if (seq == node->last_seq) {
            verdict->duplicate = 1;
            state->counters.duplicates++;
        } else if (seq != expected) {
            verdict->lost = (uint8_t)(seq - expected);
            state->counters.lost += verdict->lost;
            node->rebirth_needed = 1;
        }
    }
    node->last_seq = seq;
    node->seq_valid = 1;
}

void roda_sparkplug_state_message(roda_sparkplug_state_t *state,
                                  const roda_sparkplug_topic_t *topic,
                                  roda_sparkplug_payload_t *payload,
                                  roda_sparkplug_verdict_t *verdict)
{
    memset(verdict, 0, sizeof(*verdict));
    verdict->scope = verdict->node = NONE;
    roda_sparkplug_type_t type = topic->type;
    if (type == RODA_SPARKPLUG_NCMD || type == RODA_SPARKPLUG_DCMD ||
        type == RODA_SPARKPLUG_STATE) {
        verdict->event = RODA_SPARKPLUG_IGNORED;
        return;
    }
    int device = type == RODA_SPARKPLUG_DBIRTH || type == RODA_SPARKPLUG_DDEATH ||
                 type == RODA_SPARKPLUG_DDATA;
    uint32_t node = scope_intern(state, topic, 0, NONE);
    uint32_t scope = node == NONE || !device ? node : scope_intern(state, topic, 1, node);
    if (scope == NONE) {
        verdict->event = RODA_SPARKPLUG_SCOPES_FULL;
        state->counters.scopes_full++;
        return;
    }
    verdict->node = node;
    verdict->scope = scope;
    scope_t *n = &state->scopes[node];
    if (type == RODA_SPARKPLUG_NDEATH) {
        node_death(state, node, payload, verdict);
        return;
    }
    sequence(state, n, type, payload, verdict);
    switch (type) {
    case RODA_SPARKPLUG_NBIRTH:
        birth(state, node, payload, verdict);
        break;
    case RODA_SPARKPLUG_DBIRTH:
        if (!n->born) {
            state->counters.unborn++;
            n->rebirth_needed = 1;
        }
        birth(state, scope, payload, verdict);
        break;
    case RODA_SPARKPLUG_DDEATH:
        state->scopes[scope].born = 0;
        verdict->event = RODA_SPARKPLUG_DIED;
        state->counters.deaths++;
        break;
    default: /* NDATA, DDATA */
        if (!roda_sparkplug_state_alive(state, scope)) {
            state->counters.unborn++;
            n->rebirth_needed = 1;
        }
        break;
    }
}

int roda_sparkplug_state_resolve(roda_sparkplug_state_t *state, uint32_t scope,
                                 roda_sparkplug_metric_t *metric)
{
    uint32_t needed = RODA_SPARKPLUG_HAS_NAME | RODA_SPARKPLUG_HAS_DATATYPE;
    if ((metric->has & needed) == needed)
        return 1;
    if (scope >= state->scope_count)
        return 0;
    uint32_t found = NONE;
    if (metric->has & RODA_SPARKPLUG_HAS_ALIAS)
        found = find_alias(state, scope, metric->alias);
    else if (metric->has & RODA_SPARKPLUG_HAS_NAME)
        found = find_name(state, scope, metric->name, metric->name_length);
    if (found == NONE) {
        state->counters.unknown_metrics++;
        if (!state->scopes[scope].incomplete)
            state->scopes[state->scopes[scope].node].rebirth_needed = 1;
        return 0;
    }
    const definition_t *d = &state->definitions[found];
    if (!(metric->has & RODA_SPARKPLUG_HAS_NAME)) {
        metric->name = d->name;
        metric->name_length = d->name_length;
    }
    if (!(metric->has & RODA_SPARKPLUG_HAS_DATATYPE))
        metric->datatype = d->datatype;
    metric->has |= needed;
    return 1;
}
