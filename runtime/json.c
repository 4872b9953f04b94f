/* json: see json.h. Every read checks p < end first; errors return -1 up the call chain. */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void nnrt_json_init(JsonCursor *c, char *text, size_t len) {
  *c = (JsonCursor){.p = text, .end = text + len, .base = text};
}

static int fail(JsonCursor *c, const char *what) {
  if (!c->error) {
    c->error = what;
    c->error_at = (size_t)(c->p - c->base);
  }
  return -1;
}

static void skip_ws(JsonCursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static int peek(JsonCursor *c) {
  skip_ws(c);
  return c->p < c->end ? (unsigned char)*c->p : -1;
}

int nnrt_json_eat(JsonCursor *c, char ch) {
  if (peek(c) != (unsigned char)ch)
    return 0;
  c->p++;
  return 1;
}

int nnrt_json_expect(JsonCursor *c, char ch) {
  static const char *const expected[] = {['{'] = "expected '{'", ['}'] = "expected '}'",
                                         ['['] = "expected '['", [']'] = "expected ']'",
                                         [':'] = "expected ':'", [','] = "expected ','"};
  if (nnrt_json_eat(c, ch))
    return 0;
  return fail(c, (size_t)ch < sizeof expected / sizeof *expected && expected[(size_t)ch]
                     ? expected[(size_t)ch]
                     : "unexpected character");
}

static int next_item(JsonCursor *c, int *count, char close) {
  if (nnrt_json_eat(c, close))
    return 0;
  if (*count > 0 && nnrt_json_expect(c, ',') != 0)
    return -1;
  ++*count;
  return 1;
}

int nnrt_json_next_member(JsonCursor *c, int *count, char **key) {
  int r = next_item(c, count, '}');
  if (r != 1)
    return r;
  return nnrt_json_string(c, key) == 0 && nnrt_json_expect(c, ':') == 0 ? 1 : -1;
}

int nnrt_json_next_element(JsonCursor *c, int *count) { return next_item(c, count, ']'); }

static int hex4(JsonCursor *c, unsigned *out) {
  if (c->end - c->p < 4)
    return fail(c, "truncated \\u escape");
  *out = 0;
  for (int i = 0; i < 4; i++, c->p++) {
    char h = *c->p;
    int v = h >= '0' && h <= '9' ? h - '0'
            : h >= 'a' && h <= 'f' ? h - 'a' + 10
            : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                   : -1;
    if (v < 0)
      return fail(c, "bad hex digit in \\u escape");
    *out = *out * 16 + (unsigned)v;
  }
  return 0;
}

/* Reads the hex digits after "\u" (and a second "\uXXXX" for a surrogate pair). */
static int code_point(JsonCursor *c, unsigned long *cp) {
  unsigned hi, lo;
  if (hex4(c, &hi) != 0)
    return -1;
  if (hi >= 0xdc00 && hi <= 0xdfff)
    return fail(c, "unpaired low surrogate");
  if (hi < 0xd800 || hi > 0xdbff) {
    *cp = hi;
    return hi == 0 ? fail(c, "\\u0000 in a string") : 0;
  }
  if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u')
    return fail(c, "unpaired high surrogate");
  c->p += 2;
  if (hex4(c, &lo) != 0)
    return -1;
  if (lo < 0xdc00 || lo > 0xdfff)
    return fail(c, "unpaired high surrogate");
  *cp = 0x10000 + ((unsigned long)(hi - 0xd800) << 10) + (lo - 0xdc00);
  return 0;
}

static char *put_utf8(char *w, unsigned long cp) {
  if (cp < 0x80) {
    *w++ = (char)cp;
  } else if (cp < 0x800) {
    *w++ = (char)(0xc0 | cp >> 6);
    *w++ = (char)(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    *w++ = (char)(0xe0 | cp >> 12);
    *w++ = (char)(0x80 | (cp >> 6 & 0x3f));
    *w++ = (char)(0x80 | (cp & 0x3f));
  } else {
    *w++ = (char)(0xf0 | cp >> 18);
    *w++ = (char)(0x80 | (cp >> 12 & 0x3f));
    *w++ = (char)(0x80 | (cp >> 6 & 0x3f));
    *w++ = (char)(0x80 | (cp & 0x3f));
  }
  return w;
}

/* Decodes the escape after a backslash, writing at *w. */
static int escape(JsonCursor *c, char **w) {
  if (c->p >= c->end)
    return fail(c, "unterminated string");
  char e = *c->p++;
  const char *simple = strchr("\"\\/bfnrt", e);
  if (e != '\0' && simple) {
    *(*w)++ = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
    return 0;
  }
  if (e != 'u')
    return fail(c, "bad escape in string");
  unsigned long cp;
  if (code_point(c, &cp) != 0)
    return -1;
  *w = put_utf8(*w, cp);
  return 0;
}

int nnrt_json_string(JsonCursor *c, char **out) {
  if (peek(c) != '"')
    return fail(c, "expected a string");
  char *w = ++c->p;
  *out = w;
  while (c->p < c->end) {
    unsigned char ch = (unsigned char)*c->p++;
    if (ch == '"') {
      *w = '\0';
      return 0;
    }
    if (ch < 0x20)
      return fail(c, "control character in string");
    if (ch != '\\')
      *w++ = (char)ch;
    else if (escape(c, &w) != 0)
      return -1;
  }
  return fail(c, "unterminated string");
}

static int is_digit(JsonCursor *c) { return c->p < c->end && *c->p >= '0' && *c->p <= '9'; }

static void skip_digits(JsonCursor *c) {
  while (is_digit(c))
    c->p++;
}

/* The RFC 8259 number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int skip_number(JsonCursor *c) {
  if (c->p < c->end && *c->p == '-')
    c->p++;
  if (!is_digit(c))
    return fail(c, "expected a value");
  if (*c->p++ != '0')
    skip_digits(c);
  if (c->p < c->end && *c->p == '.') {
    c->p++;
    if (!is_digit(c))
      return fail(c, "expected a digit after '.'");
    skip_digits(c);
  }
  if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
    c->p++;
    if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
      c->p++;
    if (!is_digit(c))
      return fail(c, "expected a digit in the exponent");
    skip_digits(c);
  }
  return 0;
}

int nnrt_json_uint(JsonCursor *c, uint64_t *out) {
  skip_ws(c);
  char *start = c->p;
  if (skip_number(c) != 0)
    return -1;
  const uint64_t limit = UINT64_C(1) << 53;
  uint64_t v = 0;
  for (char *d = start; d < c->p; d++) {
    if (*d < '0' || *d > '9' || v > (limit - (uint64_t)(*d - '0')) / 10) {
      c->p = start;
      return fail(c, "expected a non-negative integer below 2^53");
    }
    v = v * 10 + (uint64_t)(*d - '0');
  }
  *out = v;
  return 0;
}

static int skip_literal(JsonCursor *c, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
    return fail(c, "expected a value");
  c->p += n;
  return 0;
}

int nnrt_json_number(JsonCursor *c, double *out) {
  skip_ws(c);
  if (peek(c) == 'n') {
    *out = NAN;
    return skip_literal(c, "null");
  }
  char *start = c->p;
  if (skip_number(c) != 0)
    return -1;
  char buf[64];
  size_t n = (size_t)(c->p - start);
  if (n >= sizeof buf) {
    c->p = start;
    return fail(c, "number too long");
  }
  memcpy(buf, start, n);
  buf[n] = '\0';
  *out = strtod(buf, NULL);
  return 0;
}

static int skip_at_depth(JsonCursor *c, int depth);

static int skip_container(JsonCursor *c, char open, int depth) {
  if (depth >= JSON_MAX_DEPTH)
    return fail(c, "nested too deeply");
  c->p++;
  int count = 0, r;
  char *key;
  while ((r = open == '{' ? nnrt_json_next_member(c, &count, &key) : nnrt_json_next_element(c, &count)) == 1)
    if (skip_at_depth(c, depth + 1) != 0)
      return -1;
  return r;
}

static int skip_at_depth(JsonCursor *c, int depth) {
  switch (peek(c)) {
  case '{': return skip_container(c, '{', depth);
  case '[': return skip_container(c, '[', depth);
  case '"': {
    char *ignored;
    return nnrt_json_string(c, &ignored);
  }
  case 't': return skip_literal(c, "true");
  case 'f': return skip_literal(c, "false");
  case 'n': return skip_literal(c, "null");
  default: return skip_number(c);
  }
}

int nnrt_json_skip_value(JsonCursor *c) { return skip_at_depth(c, 0); }

int nnrt_json_at_end(JsonCursor *c) { return peek(c) < 0; }

/* ---- Writing ---- */

void nnrt_json_put_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

void nnrt_json_put_number(FILE *f, double v, const char *fmt) {
  if (isfinite(v))
    fprintf(f, fmt, v);
  else
    fputs("null", f);
}
