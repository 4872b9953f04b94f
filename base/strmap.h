/* strmap: a hash map from strings to pointers, in an arena.
 * Contract: keys are not copied (they must outlive the map, as arena strings do); putting an
 * existing key replaces its value; lookups and puts take constant expected time, so passes
 * over files with hundreds of thousands of names stay linear. */
#ifndef NNC_STRMAP_H
#define NNC_STRMAP_H
#include <stdint.h>

#include "arena.h"

typedef struct {
  const char *key;
  void *value;
} StrMapEntry;

typedef struct {
  Arena *arena;
  StrMapEntry *slot;
  uint32_t cap, n;
} StrMap;

void strmap_init(StrMap *m, Arena *arena);
void *strmap_get(const StrMap *m, const char *key);
void strmap_put(StrMap *m, const char *key, void *value);

#endif
