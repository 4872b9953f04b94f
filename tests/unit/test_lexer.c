/* Lexer: token kinds, exact locations, the newline rule and lexical errors (via lex.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lex.h"
#include "test.h"

static Arena arena;
static char *diags; /* DIAG_TEST lines of the last lex() */

static int teardown(void **state) {
  (void)state;
  arena_free(&arena);
  free(diags);
  diags = NULL;
  return 0;
}

static LexToken *lex(const char *text, int *n) {
  Source src = {"t.nn", text, strlen(text), NULL};
  size_t size;
  free(diags);
  FILE *out = open_memstream(&diags, &size);
  assert_non_null(out);
  Diag d;
  diag_init(&d, &src, out);
  d.format = DIAG_TEST;
  LexToken *toks;
  *n = lex_tokens(&arena, &d, &src, &toks);
  fclose(out);
  return toks;
}

static void expect_tok(const LexToken *t, const char *kind, uint32_t line, uint32_t col,
                       uint32_t len) {
  assert_string_equal(t->kind, kind);
  assert_int_equal(t->loc.line, line);
  assert_int_equal(t->loc.col, col);
  assert_int_equal(t->loc.len, len);
}

/* The kinds of all tokens, space-separated: for tests about the sequence only. */
static const char *kinds(const LexToken *toks, int n) {
  char *s = arena_alloc(&arena, 1);
  for (int i = 0; i < n; i++)
    s = arena_printf(&arena, "%s%s%s", s, i ? " " : "", toks[i].kind);
  return s;
}

static void test_identifiers_and_operators(void **state) {
  (void)state;
  int n;
  LexToken *t = lex("h1.W = x\xc2\xb7y -> a.b.c_2", &n);
  assert_int_equal(n, 7);
  expect_tok(&t[0], "identifier", 1, 1, 4);
  assert_string_equal(t[0].name, "h1.W");
  expect_tok(&t[1], "'='", 1, 6, 1);
  expect_tok(&t[2], "identifier", 1, 8, 1);
  expect_tok(&t[3], "'\xc2\xb7'", 1, 9, 2); /* two bytes, two columns */
  expect_tok(&t[4], "identifier", 1, 11, 1);
  expect_tok(&t[5], "'->'", 1, 13, 2);
  expect_tok(&t[6], "identifier", 1, 16, 7);
  assert_string_equal(t[6].name, "a.b.c_2");
  assert_string_equal(diags, "");
}

static void test_numbers(void **state) {
  (void)state;
  int n;
  LexToken *t = lex("12 0.5 .5 1e-3 2.5E+4 -7", &n);
  assert_string_equal(kinds(t, n), "number number number number number '-' number");
  const double want[] = {12, 0.5, 0.5, 1e-3, 2.5e4};
  for (int i = 0; i < 5; i++)
    assert_true(t[i].num == want[i]);
  expect_tok(&t[3], "number", 1, 11, 4);
  expect_tok(&t[4], "number", 1, 16, 6);
}

static void test_keywords(void **state) {
  (void)state;
  int n;
  LexToken *t = lex("model train input target param output loss table modelx true sgd", &n);
  assert_string_equal(kinds(t, n), "'model' 'train' 'input' 'target' 'param' 'output' 'loss' "
                                   "'table' identifier identifier identifier");
}

static void test_newlines_suppressed_in_brackets(void **state) {
  (void)state;
  int n;
  LexToken *t = lex("f(a,\n  b)\n[1,\n 2]\nc", &n);
  assert_string_equal(kinds(t, n), "identifier '(' identifier ',' identifier ')' newline "
                                   "'[' number ',' number ']' newline identifier");
  expect_tok(&t[4], "identifier", 2, 3, 1);
  expect_tok(&t[6], "newline", 2, 5, 1);
  expect_tok(&t[13], "identifier", 5, 1, 1);
}

static void test_braces_restore_newlines(void **state) {
  (void)state;
  int n;
  /* Rows of a table inside a call are still one per line. */
  LexToken *t = lex("f(table {\n1 -> 2\n})", &n);
  assert_string_equal(kinds(t, n), "identifier '(' 'table' '{' newline number '->' number "
                                   "newline '}' ')'");
}

static void test_comments_and_blank_lines_collapse(void **state) {
  (void)state;
  int n;
  LexToken *t = lex("a # one\n\n   # two\n\t\nb # end", &n);
  assert_string_equal(kinds(t, n), "identifier newline identifier");
  expect_tok(&t[1], "newline", 1, 8, 13); /* from the first '\n' through the last */
  expect_tok(&t[2], "identifier", 5, 1, 1);
}

static void test_lexical_errors(void **state) {
  (void)state;
  int n;
  LexToken *t = lex("a $ \x01 \xc3\xa9 \xff 1e999", &n);
  assert_string_equal(kinds(t, n), "identifier error error error error number");
  expect_tok(&t[3], "error", 1, 7, 2);
  assert_string_equal(diags, "error|t.nn|1|3|unexpected character '$'\n"
                             "error|t.nn|1|5|stray '\\x01' in program\n"
                             "error|t.nn|1|7|unexpected character '\xc3\xa9'\n"
                             "error|t.nn|1|10|stray '\\xFF' in program\n"
                             "error|t.nn|1|12|number out of range\n");
}

static void test_byte_order_mark(void **state) {
  (void)state;
  int n;
  LexToken *t = lex("\xef\xbb\xbfmodel", &n);
  assert_int_equal(n, 1);
  expect_tok(&t[0], "'model'", 1, 4, 5);
}

static void test_strings(void **state) {
  (void)state;
  int n;
  LexToken *t = lex("csv(\"a \\\"b\\\" \\\\ \\n\\t\", \"\")", &n);
  assert_string_equal(kinds(t, n), "identifier '(' string ',' string ')'");
  expect_tok(&t[2], "string", 1, 5, 17);
  assert_string_equal(t[2].name, "a \"b\" \\ \n\t");
  assert_string_equal(t[4].name, "");
  assert_string_equal(diags, "");
}

static void test_string_errors(void **state) {
  (void)state;
  int n;
  /* Still a string token: the statement around it parses. */
  LexToken *t = lex("x = \"a\\qb\"\ny = \"open\nz", &n);
  assert_string_equal(kinds(t, n), "identifier '=' string newline identifier '=' string newline "
                                   "identifier");
  assert_string_equal(t[2].name, "ab");
  assert_string_equal(t[6].name, "open");
  assert_string_equal(diags, "error|t.nn|1|7|unknown escape sequence '\\q' in string\n"
                             "hint|the escapes are \\\" \\\\ \\n and \\t\n"
                             "error|t.nn|2|5|unterminated string\n"
                             "hint|close it with '\"' on the same line: a string cannot span "
                             "lines\n");
}

static void test_transpose_and_colon(void **state) {
  (void)state;
  int n;
  LexToken *t = lex("W\xe1\xb5\x80 @ x; y : class(2)", &n);
  assert_string_equal(kinds(t, n), "identifier '\xe1\xb5\x80' '@' identifier ';' identifier "
                                   "':' identifier '(' number ')'");
  expect_tok(&t[1], "'\xe1\xb5\x80'", 1, 2, 3); /* three bytes, three columns */
  assert_string_equal(diags, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_identifiers_and_operators, teardown),
      cmocka_unit_test_teardown(test_numbers, teardown),
      cmocka_unit_test_teardown(test_keywords, teardown),
      cmocka_unit_test_teardown(test_newlines_suppressed_in_brackets, teardown),
      cmocka_unit_test_teardown(test_braces_restore_newlines, teardown),
      cmocka_unit_test_teardown(test_comments_and_blank_lines_collapse, teardown),
      cmocka_unit_test_teardown(test_lexical_errors, teardown),
      cmocka_unit_test_teardown(test_byte_order_mark, teardown),
      cmocka_unit_test_teardown(test_strings, teardown),
      cmocka_unit_test_teardown(test_string_errors, teardown),
      cmocka_unit_test_teardown(test_transpose_and_colon, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
