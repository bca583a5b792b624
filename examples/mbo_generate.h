/* mbo_generate.h - a deterministic synthetic market-by-order stream: adds, modifies, cancels,
 * fills and trades over many instruments and price levels, the same for the same seed.
 *
 * Each event picks an instrument (skewed: low ids are much busier, as a few symbols dominate a
 * real feed) and an action: 45% adds, most of them within a few ticks of the touch; 33% cancels of
 * a random resting order; 10% modifies (new size, or a new price on the same side); 10% a trade
 * against the best order of one side (a trade and a fill); 2% a sweep that moves the mid price by
 * 1 to 3 ticks and fills every order it crosses (a trade and a fill each). Bids rest below the
 * instrument's mid and asks above it, so its book never crosses; the mid reverts to a base price,
 * so every price stays within MBO_GEN_SPAN ticks of it. Each instrument holds at most
 * MBO_GEN_ORDERS resting orders.
 *
 * The generator keeps its own model of each book (the resting orders); it is a separate piece of
 * code from the pipeline's book (mbo_book.h), which rebuilds the books from the events alone. */
#ifndef MBO_GENERATE_H
#define MBO_GENERATE_H

#include "bench_common.h"
#include "mbo_book.h"

#define MBO_GEN_ORDERS 256u /* resting orders per instrument, at most */
#define MBO_GEN_DEPTH 40    /* an add is at most this many ticks behind the touch */
#define MBO_GEN_DRIFT 64    /* the mid moves at most about this far from the base price */
/* Every price is within this of the base: mid drift, 3 ticks of sweep, 1 + depth. */
#define MBO_GEN_SPAN (MBO_GEN_DRIFT + 3 + 1 + MBO_GEN_DEPTH)
/* A step writes at most a trade and a fill per resting order. */
#define MBO_GEN_STEP_MAX (2 * MBO_GEN_ORDERS)

typedef struct mbo_resting {
    uint64_t order_id;
    int64_t price;
    uint32_t size;
    uint8_t side;
} mbo_resting_t;

typedef struct mbo_market {
    int64_t base, mid;
    uint32_t live; /* resting orders */
} mbo_market_t;

typedef struct mbo_generator {
    uint64_t random;
    uint64_t ts;
    uint64_t next_order_id;
    uint32_t instruments;
    mbo_market_t *markets;
    mbo_resting_t *resting; /* MBO_GEN_ORDERS per instrument */
    mbo_event_t step[MBO_GEN_STEP_MAX];
    uint32_t step_count, step_next; /* events of the last step not handed out yet */
} mbo_generator_t;

/* RODA_ERROR_INVALID_ARG (instruments 0 or above 65536), RODA_ERROR_NOMEM. */
static inline roda_result_t mbo_generator_init(mbo_generator_t *g, uint32_t instruments,
                                               uint64_t seed)
{
    memset(g, 0, sizeof(*g));
    if (instruments == 0 || instruments > UINT16_MAX + 1u)
        return RODA_ERROR_INVALID_ARG;
    g->random = seed | 1; /* xorshift needs a nonzero state */
    g->ts = 1700000000000000000ull;
    g->instruments = instruments;
    g->markets = calloc(instruments, sizeof(*g->markets));
    g->resting = calloc((uint64_t)instruments * MBO_GEN_ORDERS, sizeof(*g->resting));
    if (g->markets == NULL || g->resting == NULL)
        return RODA_ERROR_NOMEM;
    for (uint32_t i = 0; i < instruments; i++) {
        g->markets[i].base = 10000 + 25 * (int64_t)(i % 400);
        g->markets[i].mid = g->markets[i].base;
    }
    return RODA_SUCCESS;
}

static inline void mbo_generator_destroy(mbo_generator_t *g)
{
    free(g->markets);
    free(g->resting);
}

static inline void mbo_gen_emit(mbo_generator_t *g, uint8_t action, uint16_t instrument,
                                const mbo_resting_t *order, uint32_t size)
{
    g->step[g->step_count++] = (mbo_event_t){.ts = g->ts,
                                             .order_id = order->order_id,
                                             .price = order->price,
                                             .size = size,
                                             .instrument = instrument,
                                             .action = action,
                                             .side = order->side};
}

/* A trade of `size` against resting order `k` (a trade by the other side, then the fill); the
 * order leaves when nothing is left of it. */
static inline void mbo_gen_fill(mbo_generator_t *g, uint16_t instrument, uint32_t k, uint32_t size)
{
    mbo_market_t *m = &g->markets[instrument];
    mbo_resting_t *orders = g->resting + (uint64_t)instrument * MBO_GEN_ORDERS;
    mbo_resting_t aggressor = {.price = orders[k].price,
                               .side = orders[k].side == MBO_BID ? MBO_ASK : MBO_BID};
    mbo_gen_emit(g, MBO_TRADE, instrument, &aggressor, size);
    mbo_gen_emit(g, MBO_FILL, instrument, &orders[k], size);
    orders[k].size -= size;
    if (orders[k].size == 0)
        orders[k] = orders[--m->live];
}

/* A price `depth` ticks behind the touch of `side`. */
static inline int64_t mbo_gen_price(const mbo_market_t *m, uint8_t side, uint64_t depth)
{
    return side == MBO_BID ? m->mid - 1 - (int64_t)depth : m->mid + 1 + (int64_t)depth;
}

/* Mostly 0 to 3 ticks, sometimes more, up to MBO_GEN_DEPTH. */
static inline uint64_t mbo_gen_depth(uint64_t x)
{
    uint64_t depth =
        (uint64_t)__builtin_ctzll(x | (1ull << 20)) + ((x >> 24) & 1) * ((x >> 25) & 15);
    return depth < MBO_GEN_DEPTH ? depth : MBO_GEN_DEPTH;
}

/* Writes the events of one step into g->step. */
static inline void mbo_gen_step(mbo_generator_t *g)
{
    uint64_t x = bench_random(&g->random), y = bench_random(&g->random);
    double u = (double)(x >> 11) * 0x1p-53;
    uint16_t instrument = (uint16_t)(u * u * (double)g->instruments);
    mbo_market_t *m = &g->markets[instrument];
    mbo_resting_t *orders = g->resting + (uint64_t)instrument * MBO_GEN_ORDERS;
    uint8_t side = (y & 1) ? MBO_ASK : MBO_BID;
    uint32_t k = m->live != 0 ? (uint32_t)((y >> 32) % m->live) : 0;
    uint32_t action = (uint32_t)((x & 0x7ff) % 100);
    g->ts += 1 + ((y >> 8) & 1023);
    g->step_count = g->step_next = 0;
    if (m->live < 16)
        action = 0; /* refill a thin book */
    else if (m->live == MBO_GEN_ORDERS)
        action = 45;                   /* a full one cancels */
    if (action >= 88 && action < 98) { /* a trade against the best order of `side` */
        uint32_t best = m->live;
        for (uint32_t i = 0; i < m->live; i++)
            if (orders[i].side == side &&
                (best == m->live || (side == MBO_BID ? orders[i].price > orders[best].price
                                                     : orders[i].price < orders[best].price)))
                best = i;
        if (best == m->live) {
            action = 0;
        } else {
            uint32_t size = 100 * (1 + (uint32_t)((y >> 12) % 5));
            mbo_gen_fill(g, instrument, best, size < orders[best].size ? size : orders[best].size);
            return;
        }
    }
    if (action < 45) { /* add */
        orders[m->live] = (mbo_resting_t){.order_id = ++g->next_order_id,
                                          .price = mbo_gen_price(m, side, mbo_gen_depth(y >> 12)),
                                          .size = 100 * (1 + (uint32_t)((y >> 48) % 10)),
                                          .side = side};
        mbo_gen_emit(g, MBO_ADD, instrument, &orders[m->live], orders[m->live].size);
        m->live++;
    } else if (action < 78) { /* cancel */
        mbo_gen_emit(g, MBO_CANCEL, instrument, &orders[k], orders[k].size);
        orders[k] = orders[--m->live];
    } else if (action < 88) { /* modify: a new size, or a new price on the same side */
        if (y & 2)
            orders[k].price = mbo_gen_price(m, orders[k].side, mbo_gen_depth(y >> 12));
        else
            orders[k].size = 100 * (1 + (uint32_t)((y >> 48) % 10));
        mbo_gen_emit(g, MBO_MODIFY, instrument, &orders[k], orders[k].size);
    } else { /* sweep: the mid moves, every order it crosses is filled */
        int64_t offset = m->mid - m->base, move = 1 + (int64_t)((y >> 12) % 3);
        bool up = offset < -MBO_GEN_DRIFT ? true : offset > MBO_GEN_DRIFT ? false : (y & 4) != 0;
        m->mid += up ? move : -move;
        for (uint32_t i = 0; i < m->live;)
            if (up ? orders[i].side == MBO_ASK && orders[i].price <= m->mid
                   : orders[i].side == MBO_BID && orders[i].price >= m->mid)
                mbo_gen_fill(g, instrument, i, orders[i].size); /* i now holds the last order */
            else
                i++;
    }
}

/* Writes the next `count` events of the stream to `out`. */
static inline void mbo_generate(mbo_generator_t *g, mbo_event_t *out, uint64_t count)
{
    for (uint64_t i = 0; i < count; i++) {
        while (g->step_next == g->step_count)
            mbo_gen_step(g);
        out[i] = g->step[g->step_next++];
    }
}

#endif
