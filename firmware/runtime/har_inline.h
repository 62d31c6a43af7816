/* HAR_ALWAYS_INLINE: for a kernel body instantiated per constant flag, or a hot helper. Without it GCC
 * may keep one out-of-line copy (testing the flag, passing accumulators through memory). */
#ifndef HAR_INLINE_H
#define HAR_INLINE_H

#if defined(__GNUC__)
#define HAR_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define HAR_ALWAYS_INLINE inline
#endif

#endif
