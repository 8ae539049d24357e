/* clock.h -- the monotonic clock the runtime reads (the Raft core never
 * does: it is handed the time). */
#ifndef CLOCK_H
#define CLOCK_H

#include <stdint.h>

uint64_t clock_mono_ms(void);

#endif
