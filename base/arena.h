/* arena: the only allocator of the compiler.
 * Contract: arena_alloc returns zeroed, 16-byte aligned memory that lives until arena_free.
 * Out of memory ends nnc with a message and status 1 (oom.h): a compiler cannot go on.
 * arena_mark/arena_reset release everything allocated after the mark, for per-pass scratch. */
#ifndef NNC_ARENA_H
#define NNC_ARENA_H
#include <stddef.h>

typedef struct ArenaBlock ArenaBlock;
typedef struct {
  ArenaBlock *head;
} Arena;
typedef struct {
  ArenaBlock *block;
  size_t used;
} ArenaMark;

void arena_init(Arena *a);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t size);
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), nonnull(2)));
ArenaMark arena_mark(Arena *a);
void arena_reset(Arena *a, ArenaMark m);

#define ARENA_NEW(a, T) ((T *)arena_alloc((a), sizeof(T)))
#define ARENA_ARRAY(a, T, n) ((T *)arena_alloc((a), sizeof(T) * (size_t)(n)))

#endif
