#include "strmap.h"

#include <string.h>

void strmap_init(StrMap *m, Arena *arena) {
  m->arena = arena;
  m->slot = NULL;
  m->cap = m->n = 0;
}

static uint32_t hash(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* The slot holding key, or the empty slot where it would go. */
static StrMapEntry *find(const StrMap *m, const char *key) {
  uint32_t i = hash(key) & (m->cap - 1);
  while (m->slot[i].key && strcmp(m->slot[i].key, key) != 0)
    i = (i + 1) & (m->cap - 1);
  return &m->slot[i];
}

void *strmap_get(const StrMap *m, const char *key) {
  if (!m->cap)
    return NULL;
  StrMapEntry *e = find(m, key);
  return e->key ? e->value : NULL;
}

static void grow(StrMap *m) {
  StrMapEntry *old = m->slot;
  uint32_t old_cap = m->cap;
  m->cap = old_cap ? 2 * old_cap : 64;
  m->slot = ARENA_ARRAY(m->arena, StrMapEntry, m->cap);
  for (uint32_t i = 0; i < old_cap; i++)
    if (old[i].key)
      *find(m, old[i].key) = old[i];
}

void strmap_put(StrMap *m, const char *key, void *value) {
  if (2 * (m->n + 1) > m->cap)
    grow(m);
  StrMapEntry *e = find(m, key);
  if (!e->key) {
    e->key = key;
    m->n++;
  }
  e->value = value;
}
