#include "arena.h"

#include "oom.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ARENA_BLOCK_MIN = 64 * 1024 };

struct ArenaBlock {
  ArenaBlock *prev;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

void arena_init(Arena *a) { a->head = NULL; }

void arena_free(Arena *a) {
  ArenaBlock *b = a->head;
  while (b) {
    ArenaBlock *prev = b->prev;
    free(b);
    b = prev;
  }
  a->head = NULL;
}

static ArenaBlock *arena_grow(Arena *a, size_t size) {
  size_t cap = size > ARENA_BLOCK_MIN ? size : ARENA_BLOCK_MIN;
  ArenaBlock *b = malloc(sizeof(ArenaBlock) + cap);
  if (!b)
    oom_exit();
  b->prev = a->head;
  b->used = 0;
  b->cap = cap;
  a->head = b;
  return b;
}

void *arena_alloc(Arena *a, size_t size) {
  size = (size + 15) & ~(size_t)15;
  ArenaBlock *b = a->head;
  if (!b || b->cap - b->used < size)
    b = arena_grow(a, size);
  void *p = b->data + b->used;
  b->used += size;
  memset(p, 0, size);
  return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n) {
  char *p = arena_alloc(a, n + 1);
  memcpy(p, s, n);
  return p;
}

char *arena_strdup(Arena *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

char *arena_printf(Arena *a, const char *fmt, ...) {
  va_list ap;
  char probe[1];
  va_start(ap, fmt);
  int n = vsnprintf(probe, sizeof probe, fmt, ap);
  va_end(ap);
  char *p = arena_alloc(a, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

ArenaMark arena_mark(Arena *a) {
  return (ArenaMark){a->head, a->head ? a->head->used : 0};
}

/* Blocks allocated after the mark are freed; the marked block is rewound. */
void arena_reset(Arena *a, ArenaMark m) {
  while (a->head && a->head != m.block) {
    ArenaBlock *prev = a->head->prev;
    free(a->head);
    a->head = prev;
  }
  if (a->head)
    a->head->used = m.used;
}
