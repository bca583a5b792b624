/* roda_inline.h - how hot-path functions are declared.
 *
 * `inline` is a hint that GCC drops once a function is called from several places and grows past
 * its size budget: a pipe component called from its stage and from a fused pipe then becomes an
 * out-of-line call per record (measured: 3x slower). Static dispatch is the engine's promise, so
 * per-record functions force it. */
#ifndef RODA_INLINE_H
#define RODA_INLINE_H

#define RODA_HOT static inline __attribute__((always_inline))

#endif
