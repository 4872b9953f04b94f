#include "stage_clock.h"

#include <sys/resource.h>
#include <time.h>

static double seconds(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec * 1e-6; }

/* CPU time so far of nnc and of its children that have been waited for: the linker runs as a
 * child, and its time is the link's. */
static double cpu_now(void) {
  struct rusage self, children;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  return seconds(self.ru_utime) + seconds(self.ru_stime) + seconds(children.ru_utime) +
         seconds(children.ru_stime);
}

static double wall_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void print_line(const StageClock *c, const char *stage, double cpu, double wall) {
  fprintf(c->out, "nnc: time: %-16s %7.3f s CPU %7.3f s wall\n", stage, cpu, wall);
}

void stage_clock_start(StageClock *c, FILE *out) {
  *c = (StageClock){.out = out};
  if (!out)
    return;
  c->cpu_start = c->cpu_lap = cpu_now();
  c->wall_start = c->wall_lap = wall_now();
}

void stage_clock_lap(StageClock *c, const char *stage) {
  if (!c->out)
    return;
  double cpu = cpu_now(), wall = wall_now();
  print_line(c, stage, cpu - c->cpu_lap, wall - c->wall_lap);
  c->cpu_lap = cpu;
  c->wall_lap = wall;
}

void stage_clock_total(StageClock *c) {
  if (c->out)
    print_line(c, "total", cpu_now() - c->cpu_start, wall_now() - c->wall_start);
}
