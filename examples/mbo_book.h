/* mbo_book.h - the market-by-order example's records and its two pipes: order books rebuilt from
 * MBO events (stage 1) and order-flow imbalance signals with hysteresis (stage 2).
 *
 * Stage 1 keeps every live order in a key table (order id -> price, size, book side) and, per
 * instrument and side, a price ladder: the total size resting at each price, in a ring of
 * `ladder` ticks indexed by price modulo the ladder, with a bit per non-empty level so the next
 * best price is found a word at a time. A side's live prices must span fewer than `ladder`
 * ticks (then no two share a ring slot); an order that would widen it further is refused and
 * counted. It emits the instrument's top of book whenever the best prices or their sizes change.
 *
 * Stage 2 turns successive tops into order-flow imbalance (Cont, Kukanov and Stoikov: size added
 * at or above the best bid counts as buying, size added at or below the best ask as selling, and
 * size leaving the touch the other way), keeps a decaying sum of it and of its magnitude per
 * instrument, and signals when their ratio enters a regime (above +ENTER% buying, below -ENTER%
 * selling) or leaves it (back inside EXIT%): the gap between the two is the hysteresis.
 *
 * Memory: everything is allocated by mbo_book_init and the pipes' init; the steps allocate
 * nothing. */
#ifndef MBO_BOOK_H
#define MBO_BOOK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "roda_keytable.h"
#include "roda_pipe.h"

/* One MBO event; the generator's file is a sequence of these (host byte order). */
typedef struct mbo_event {
    uint64_t ts;       /* exchange time, ns */
    uint64_t order_id; /* 0 for trades */
    int64_t price;     /* ticks, > 0 */
    uint32_t size;     /* add, modify: the order's size; cancel, fill, trade: the size removed */
    uint16_t instrument;
    uint8_t action; /* MBO_ADD .. MBO_TRADE */
    uint8_t side;   /* MBO_BID or MBO_ASK; a trade's is the aggressor's */
} mbo_event_t;
_Static_assert(sizeof(mbo_event_t) == 32, "an MBO record is 32 bytes");

enum { MBO_ADD = 'A', MBO_MODIFY = 'M', MBO_CANCEL = 'C', MBO_FILL = 'F', MBO_TRADE = 'T' };
enum { MBO_BID = 'B', MBO_ASK = 'A' };

/* An instrument's top of book. An empty side has price 0 and size 0. */
typedef struct mbo_top {
    uint64_t ts;
    uint64_t instrument;
    int64_t bid_price, ask_price;
    uint32_t bid_size, ask_size; /* the total size resting at the best price */
} mbo_top_t;

/* ---- Stage 1: the order books ------------------------------------------------------------- */

typedef struct mbo_order {
    int64_t price;
    uint32_t size;
    uint32_t side; /* book side index: instrument * 2 + (ask ? 1 : 0) */
} mbo_order_t;

typedef struct mbo_side {
    int64_t low, high; /* lowest and highest price with size (while levels != 0) */
    uint64_t levels;   /* prices with size */
} mbo_side_t;

typedef struct mbo_book {
    roda_keytable_t orders; /* order id -> mbo_order_t */
    mbo_side_t *sides;      /* per book side */
    uint32_t *sizes;        /* per book side: `ladder` slots, slot = price & ladder_mask */
    uint64_t *occupied;     /* per book side: ladder / 64 words, a bit per slot with size */
    mbo_top_t *tops;        /* per instrument: the last top emitted */
    uint64_t ladder_mask;
    uint64_t ladder_words;
    uint32_t instruments;
    uint64_t events;  /* events seen */
    uint64_t emitted; /* tops emitted */
    uint64_t unknown; /* cancel, fill or modify of an order not in the book; add of a live id */
    uint64_t refused; /* unknown action or instrument, bad side or size, order table full, or a
                         price outside the side's ladder window */
} mbo_book_t;

/* Sizes the books for `instruments` instruments, `orders` live orders in all, and ladders of
 * `ladder` ticks (a power of two, >= 64). RODA_ERROR_INVALID_ARG, RODA_ERROR_NOMEM. */
static inline roda_result_t mbo_book_init(mbo_book_t *book, uint32_t instruments, uint32_t orders,
                                          uint64_t ladder)
{
    memset(book, 0, sizeof(*book));
    if (instruments == 0 || instruments > UINT16_MAX + 1u || ladder < 64 ||
        (ladder & (ladder - 1)) != 0 || ladder > (1u << 24))
        return RODA_ERROR_INVALID_ARG;
    roda_result_t result = roda_keytable_init(&book->orders, orders, sizeof(mbo_order_t));
    if (result != RODA_SUCCESS)
        return result;
    uint64_t sides = 2ull * instruments;
    book->ladder_mask = ladder - 1;
    book->ladder_words = ladder / 64;
    book->instruments = instruments;
    book->sides = calloc(sides, sizeof(*book->sides));
    book->sizes = calloc(sides * ladder, sizeof(*book->sizes));
    book->occupied = calloc(sides * book->ladder_words, sizeof(*book->occupied));
    book->tops = calloc(instruments, sizeof(*book->tops));
    if (book->sides == NULL || book->sizes == NULL || book->occupied == NULL || book->tops == NULL)
        return RODA_ERROR_NOMEM;
    return RODA_SUCCESS;
}

static inline void mbo_book_destroy(mbo_book_t *book)
{
    roda_keytable_destroy(&book->orders);
    free(book->sides);
    free(book->sizes);
    free(book->occupied);
    free(book->tops);
    memset(book, 0, sizeof(*book));
}

static inline uint32_t *mbo_level(const mbo_book_t *book, uint32_t side, int64_t price)
{
    return &book->sizes[(uint64_t)side * (book->ladder_mask + 1) +
                        ((uint64_t)price & book->ladder_mask)];
}

static inline uint64_t *mbo_bits(const mbo_book_t *book, uint32_t side, int64_t price)
{
    return &book->occupied[(uint64_t)side * book->ladder_words +
                           (((uint64_t)price & book->ladder_mask) >> 6)];
}

/* The nearest price with size from `price` on (inclusive), going down (step < 0) or up. The side
 * must have a level in that direction within the ladder. */
static inline int64_t mbo_seek(const mbo_book_t *book, uint32_t side, int64_t price, int step)
{
    for (;;) {
        uint64_t word = *mbo_bits(book, side, price);
        int64_t bit = (int64_t)((uint64_t)price & 63);
        if (step < 0) {
            uint64_t below = word & (~0ull >> (63 - bit));
            if (below != 0)
                return price - (bit - (63 - __builtin_clzll(below)));
            price -= bit + 1;
        } else {
            uint64_t above = word & (~0ull << bit);
            if (above != 0)
                return price + (__builtin_ctzll(above) - bit);
            price += 64 - bit;
        }
    }
}

/* Whether `price` keeps the side's live prices within the ladder. */
static inline bool mbo_fits(const mbo_book_t *book, uint32_t side, int64_t price)
{
    const mbo_side_t *s = &book->sides[side];
    if (price <= 0)
        return false;
    if (s->levels == 0)
        return true;
    int64_t low = price < s->low ? price : s->low, high = price > s->high ? price : s->high;
    return (uint64_t)(high - low) <= book->ladder_mask;
}

/* Adds `size` (> 0) at `price`; the price fits (mbo_fits). */
static inline void mbo_level_add(mbo_book_t *book, uint32_t side, int64_t price, uint32_t size)
{
    uint32_t *level = mbo_level(book, side, price);
    if (*level == 0) {
        mbo_side_t *s = &book->sides[side];
        *mbo_bits(book, side, price) |= 1ull << ((uint64_t)price & 63);
        if (s->levels++ == 0) {
            s->low = s->high = price;
        } else {
            s->low = price < s->low ? price : s->low;
            s->high = price > s->high ? price : s->high;
        }
    }
    *level += size;
}

/* Removes `size` (<= what rests there) from `price`; an emptied level leaves the ladder. */
static inline void mbo_level_remove(mbo_book_t *book, uint32_t side, int64_t price, uint32_t size)
{
    uint32_t *level = mbo_level(book, side, price);
    *level -= size;
    if (*level != 0)
        return;
    mbo_side_t *s = &book->sides[side];
    *mbo_bits(book, side, price) &= ~(1ull << ((uint64_t)price & 63));
    if (--s->levels == 0)
        return;
    if (price == s->high)
        s->high = mbo_seek(book, side, price - 1, -1);
    else if (price == s->low)
        s->low = mbo_seek(book, side, price + 1, 1);
}

static inline uint32_t mbo_side_of(const mbo_event_t *e)
{
    return 2u * e->instrument + (e->side == MBO_ASK);
}

/* Book side changed by the event, or UINT32_MAX when the book did not change. */
static inline uint32_t mbo_add(mbo_book_t *book, const mbo_event_t *e)
{
    uint32_t side = mbo_side_of(e), index;
    bool fresh;
    if ((e->side != MBO_BID && e->side != MBO_ASK) || e->size == 0 ||
        !mbo_fits(book, side, e->price) ||
        roda_keytable_insert(&book->orders, e->order_id, &index, &fresh) != RODA_SUCCESS) {
        book->refused++;
        return UINT32_MAX;
    }
    if (!fresh) {
        book->unknown++;
        return UINT32_MAX;
    }
    mbo_order_t *order = roda_keytable_state(&book->orders, index);
    *order = (mbo_order_t){.price = e->price, .size = e->size, .side = side};
    mbo_level_add(book, side, e->price, e->size);
    return side;
}

/* The live order of the event, or NULL (counted as unknown). */
static inline mbo_order_t *mbo_order_of(mbo_book_t *book, const mbo_event_t *e)
{
    uint32_t index = roda_keytable_find(&book->orders, e->order_id);
    if (index == RODA_KEYTABLE_NONE) {
        book->unknown++;
        return NULL;
    }
    return roda_keytable_state(&book->orders, index);
}

/* Cancel or fill: `size` leaves the order; an order left with nothing leaves the book. */
static inline uint32_t mbo_reduce(mbo_book_t *book, const mbo_event_t *e, uint32_t size)
{
    mbo_order_t *order = mbo_order_of(book, e);
    if (order == NULL)
        return UINT32_MAX;
    uint32_t side = order->side;
    size = size < order->size ? size : order->size;
    mbo_level_remove(book, side, order->price, size);
    order->size -= size;
    if (order->size == 0)
        roda_keytable_remove(&book->orders, e->order_id);
    return side;
}

/* Modify: the order's new price and size (same side); size 0 cancels it. */
static inline uint32_t mbo_modify(mbo_book_t *book, const mbo_event_t *e)
{
    mbo_order_t *order = mbo_order_of(book, e);
    if (order == NULL)
        return UINT32_MAX;
    if (e->size == 0)
        return mbo_reduce(book, e, order->size);
    if (e->price != order->price && !mbo_fits(book, order->side, e->price)) {
        book->refused++;
        return UINT32_MAX;
    }
    mbo_level_remove(book, order->side, order->price, order->size);
    mbo_level_add(book, order->side, e->price, e->size);
    order->price = e->price;
    order->size = e->size;
    return order->side;
}

static inline void mbo_top_of(const mbo_book_t *book, uint32_t instrument, mbo_top_t *top)
{
    const mbo_side_t *bids = &book->sides[2 * instrument], *asks = bids + 1;
    top->instrument = instrument;
    top->bid_price = bids->levels != 0 ? bids->high : 0;
    top->bid_size = bids->levels != 0 ? *mbo_level(book, 2 * instrument, bids->high) : 0;
    top->ask_price = asks->levels != 0 ? asks->low : 0;
    top->ask_size = asks->levels != 0 ? *mbo_level(book, 2 * instrument + 1, asks->low) : 0;
}

/* Stage 1's step: applies the event; emits the instrument's top when it changed. */
RODA_HOT int mbo_book_step(mbo_book_t *book, const mbo_event_t *e, mbo_top_t *out)
{
    book->events++;
    if (e->instrument >= book->instruments) {
        book->refused++;
        return 0;
    }
    uint32_t side;
    switch (e->action) {
    case MBO_ADD:
        side = mbo_add(book, e);
        break;
    case MBO_MODIFY:
        side = mbo_modify(book, e);
        break;
    case MBO_CANCEL:
    case MBO_FILL:
        side = mbo_reduce(book, e, e->size);
        break;
    case MBO_TRADE: /* the fills of the resting orders it hit change the book */
        return 0;
    default:
        book->refused++;
        return 0;
    }
    if (side == UINT32_MAX)
        return 0;
    mbo_top_t now;
    mbo_top_of(book, side / 2, &now);
    mbo_top_t *last = &book->tops[side / 2];
    if (now.bid_price == last->bid_price && now.bid_size == last->bid_size &&
        now.ask_price == last->ask_price && now.ask_size == last->ask_size)
        return 0;
    now.ts = e->ts;
    *last = now;
    *out = now;
    book->emitted++;
    return 1;
}

/* Folds `value` into a running checksum. */
static inline uint64_t mbo_fold(uint64_t sum, uint64_t value)
{
    return roda_keytable_hash(sum ^ value) + value;
}

/* A checksum of every level of every book (price and size, in price order) and the live order
 * count: equal books give equal sums. Cold path. */
static inline uint64_t mbo_book_checksum(const mbo_book_t *book)
{
    uint64_t sum = mbo_fold(0, book->orders.count);
    for (uint32_t side = 0; side < 2 * book->instruments; side++) {
        const mbo_side_t *s = &book->sides[side];
        int64_t price = s->low;
        for (uint64_t level = 0; level < s->levels; level++, price++) {
            price = mbo_seek(book, side, price, 1);
            sum = mbo_fold(mbo_fold(sum, side), (uint64_t)price);
            sum = mbo_fold(sum, *mbo_level(book, side, price));
        }
    }
    return sum;
}

/* ---- Stage 2: order-flow imbalance and signals ------------------------------------------- */

#define MBO_ENTER_PERCENT 60 /* |flow| / volume above this enters a regime */
#define MBO_EXIT_PERCENT 20  /* ... and back inside this leaves it */
#define MBO_DECAY 16         /* each update keeps 15/16 of the decaying sums */

typedef struct mbo_flow {
    mbo_top_t top;  /* the instrument's previous top */
    int64_t flow;   /* decaying sum of order-flow imbalance */
    int64_t volume; /* decaying sum of its magnitude: |flow| <= volume, about */
    int32_t regime; /* +1 buying, -1 selling, 0 neither */
    int32_t crossed;
} mbo_flow_t;

typedef struct mbo_signal {
    uint64_t ts;
    uint64_t instrument;
    int64_t regime;   /* the regime entered: +1 buying, -1 selling, 0 neither */
    int64_t permille; /* flow / volume, in thousandths, when it crossed */
} mbo_signal_t;

/* Order-flow imbalance between two successive tops (an empty ask compares as the highest). */
static inline int64_t mbo_order_flow(const mbo_top_t *before, const mbo_top_t *now)
{
    int64_t flow = 0;
    if (now->bid_price >= before->bid_price)
        flow += now->bid_size;
    if (now->bid_price <= before->bid_price)
        flow -= before->bid_size;
    int64_t ask_now = now->ask_size != 0 ? now->ask_price : INT64_MAX;
    int64_t ask_before = before->ask_size != 0 ? before->ask_price : INT64_MAX;
    if (ask_now <= ask_before)
        flow -= now->ask_size;
    if (ask_now >= ask_before)
        flow += before->ask_size;
    return flow;
}

static inline uint64_t mbo_top_instrument(const mbo_top_t *top)
{
    return top->instrument;
}

static inline void mbo_flow_start(mbo_flow_t *f, const mbo_top_t *top)
{
    *f = (mbo_flow_t){.top = *top};
}

static inline void mbo_flow_update(mbo_flow_t *f, const mbo_top_t *top)
{
    int64_t e = mbo_order_flow(&f->top, top);
    f->flow += e - f->flow / MBO_DECAY;
    f->volume += (e < 0 ? -e : e) - f->volume / MBO_DECAY;
    int64_t ratio = 100 * f->flow, enter = MBO_ENTER_PERCENT * f->volume,
            leave = MBO_EXIT_PERCENT * f->volume;
    int32_t regime = f->regime;
    if (ratio > enter)
        regime = 1;
    else if (ratio < -enter)
        regime = -1;
    else if ((regime == 1 && ratio < leave) || (regime == -1 && ratio > -leave))
        regime = 0;
    f->crossed = regime != f->regime;
    f->regime = regime;
    f->top = *top;
}

static inline bool mbo_flow_crossed(const mbo_flow_t *f)
{
    return f->crossed;
}

static inline void mbo_flow_signal(const mbo_flow_t *f, mbo_signal_t *s)
{
    *s = (mbo_signal_t){.ts = f->top.ts,
                        .instrument = f->top.instrument,
                        .regime = f->regime,
                        .permille = f->volume != 0 ? 1000 * f->flow / f->volume : 0};
}

RODA_STATEFUL(mbo_ofi, mbo_top_t, mbo_flow_t, mbo_top_instrument, mbo_flow_start, mbo_flow_update)
RODA_FILTER(mbo_crossing, mbo_flow_t, mbo_flow_crossed)
RODA_MAP(mbo_to_signal, mbo_flow_t, mbo_signal_t, mbo_flow_signal)
RODA_PIPE(mbo_signals, mbo_top_t, mbo_ofi, mbo_flow_t, mbo_crossing, mbo_flow_t, mbo_to_signal,
          mbo_signal_t)

#endif
