/* stage_clock: nnc --time, the time each compile stage takes.
 * Contract: a clock started with a NULL stream records and prints nothing, so the driver laps
 * it unconditionally. stage_clock_lap prints, to the stream, one line for the time since the
 * start or the previous lap: "nnc: time: STAGE  C s CPU  W s wall", where C is nnc's own CPU
 * time (user + system) plus that of the children it waited for in between (the linker), and W
 * the elapsed time; stage_clock_total prints the line "total" for the time since the start. */
#ifndef NNC_STAGE_CLOCK_H
#define NNC_STAGE_CLOCK_H
#include <stdio.h>

typedef struct {
  FILE *out;                  /* NULL: not timing */
  double cpu_start, wall_start;
  double cpu_lap, wall_lap;   /* at the previous lap */
} StageClock;

void stage_clock_start(StageClock *c, FILE *out);
void stage_clock_lap(StageClock *c, const char *stage);
void stage_clock_total(StageClock *c);

#endif
