/* json: a strict, bounded JSON reader for the safetensors header, over a mutable buffer, and
 * the two writers of values that need care (strings, non-finite numbers).
 * Contract: it accepts exactly RFC 8259 syntax (no comments, no trailing commas, no leading
 * zeros), never reads outside [text, text + len), nests at most JSON_MAX_DEPTH deep, and
 * decodes strings in place (a decoded string is never longer than its source, so it is written
 * behind the read position and NUL-terminated there). The first error is kept in the cursor as
 * a fixed description and the byte offset where it was found. */
#ifndef NNRT_JSON_H
#define NNRT_JSON_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { JSON_MAX_DEPTH = 32 };

typedef struct {
  char *p, *end;
  const char *base;
  const char *error; /* NULL until something fails */
  size_t error_at;
} JsonCursor;

void nnrt_json_init(JsonCursor *c, char *text, size_t len);
/* Skips whitespace and consumes ch if it comes next; returns whether it did. */
int nnrt_json_eat(JsonCursor *c, char ch);
/* nnrt_json_eat, or records "expected 'ch'" and returns -1. */
int nnrt_json_expect(JsonCursor *c, char ch);
/* After '{' was consumed: 1 with *key set (and ':' consumed) while members remain, 0 once the
 * closing '}' is consumed, -1 on error. *count must start at 0. */
int nnrt_json_next_member(JsonCursor *c, int *count, char **key);
/* After '[' was consumed: 1 while elements remain, 0 once ']' is consumed, -1 on error. */
int nnrt_json_next_element(JsonCursor *c, int *count);
int nnrt_json_string(JsonCursor *c, char **out);
/* A number that is a non-negative integer below 2^53 (exactly representable everywhere). */
int nnrt_json_uint(JsonCursor *c, uint64_t *out);
/* A number as a double, or null as NAN. */
int nnrt_json_number(JsonCursor *c, double *out);
int nnrt_json_skip_value(JsonCursor *c);
/* Whether only whitespace remains. */
int nnrt_json_at_end(JsonCursor *c);

/* Writing: s as a JSON string (quotes, backslashes and control characters escaped); v with
 * printf format fmt, or null when it is not finite (JSON has no NaN nor infinity). */
void nnrt_json_put_string(FILE *f, const char *s);
void nnrt_json_put_number(FILE *f, double v, const char *fmt);

#endif
