/* Parser: golden trees (tests/golden/parse/NAME.nn -> NAME.ast), exact syntax diagnostics,
 * error recovery, and hostile input. Regenerate the goldens with NNC_UPDATE_GOLDEN=1. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "test.h"

typedef struct {
  Arena arena;
  AstNode *tree;
  char *diags; /* DIAG_TEST lines, from open_memstream */
  int errors;
} Parsed;

static Parsed P;

static int teardown(void **state) {
  (void)state;
  arena_free(&P.arena);
  free(P.diags);
  P = (Parsed){0};
  return 0;
}

/* Parses len bytes (which may contain NULs) as file "t.nn". */
static void parse_bytes(const char *bytes, size_t len) {
  char *text = arena_alloc(&P.arena, len + 1);
  memcpy(text, bytes, len);
  Source src = {"t.nn", text, len, NULL};
  size_t size;
  free(P.diags);
  FILE *out = open_memstream(&P.diags, &size);
  assert_non_null(out);
  Diag d;
  diag_init(&d, &src, out);
  d.format = DIAG_TEST;
  P.tree = parse_source(&P.arena, &d, &src);
  P.errors = diag_count(&d);
  fclose(out);
}

static void parse_text(const char *text) { parse_bytes(text, strlen(text)); }


static char *print_tree(const AstNode *tree) {
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  ast_print(out, tree);
  fclose(out);
  return text;
}


/* Compares (or with NNC_UPDATE_GOLDEN set, rewrites) DIR/name.ast. */
static void check_golden(const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.nn", NNC_PARSE_GOLDEN_DIR, name);
  char *source = test_read_file(path, NULL);
  assert_non_null(source);
  parse_text(source);
  if (P.errors)
    fail_msg("%s.nn: %s", name, P.diags);
  char *got = print_tree(P.tree);
  snprintf(path, sizeof path, "%s/%s.ast", NNC_PARSE_GOLDEN_DIR, name);
  if (!test_golden_matches(path, got))
    fail_msg("%s.nn: the tree differs from %s.ast", name, name);
  free(got);
  free(source);
  teardown(NULL);
}

static void test_goldens(void **state) {
  (void)state;
  DIR *dir = opendir(NNC_PARSE_GOLDEN_DIR);
  assert_non_null(dir);
  int checked = 0;
  struct dirent *e;
  while ((e = readdir(dir))) {
    size_t len = strlen(e->d_name);
    if (len <= 3 || strcmp(e->d_name + len - 3, ".nn") != 0)
      continue;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(len - 3), e->d_name);
    check_golden(name);
    checked++;
  }
  closedir(dir);
  assert_true(checked >= 6); /* neuron, xor, dense, table_rows, expressions, empty_blocks */
}

/* --- the tree beyond what the goldens show ------------------------------------------------ */

static void test_decl_locs_span_statement(void **state) {
  (void)state;
  parse_text("model m {\n  param  W1[2, 2] = normal(0, 1)\n}\n");
  assert_int_equal(P.errors, 0);
  const AstNode *param = P.tree->u.block.items;
  assert_int_equal(param->kind, AST_PARAM);
  assert_int_equal(param->loc.line, 2);
  assert_int_equal(param->loc.col, 3);
  assert_int_equal(param->loc.len, strlen("param  W1[2, 2] = normal(0, 1)"));
  assert_int_equal(param->u.decl.name_loc.col, 10);
  assert_int_equal(param->u.decl.name_loc.len, 2);
  assert_int_equal(ast_length(param->u.decl.dims), 2);
  const AstNode *call = param->u.decl.value;
  assert_int_equal(call->kind, AST_CALL);
  assert_int_equal(call->loc.len, strlen("normal(0, 1)"));
  assert_int_equal(call->u.call.name_loc.len, strlen("normal"));
}

static void test_train_assignments_are_settings(void **state) {
  (void)state;
  parse_text("model m { x = 1 }\ntrain m { x = 1 }\n");
  assert_int_equal(P.errors, 0);
  assert_int_equal(P.tree->u.block.items->kind, AST_LET);
  assert_int_equal(P.tree->next->kind, AST_TRAIN);
  assert_int_equal(P.tree->next->u.block.items->kind, AST_SETTING);
}

static void test_counts_and_unnamed_output(void **state) {
  (void)state;
  parse_text("model m {\n output [1, 2, 3]\n t = table { 1 2 -> 3; -> ; }\n}");
  assert_int_equal(P.errors, 0);
  const AstNode *out = P.tree->u.block.items;
  assert_null(out->u.decl.name);
  assert_int_equal(out->u.decl.value->u.array.n, 3);
  const AstNode *table = out->next->u.decl.value;
  assert_int_equal(table->u.table.n, 2);
  assert_int_equal(table->u.table.rows->u.row.n_in, 2);
  assert_int_equal(table->u.table.rows->u.row.n_out, 1);
  assert_int_equal(table->u.table.rows->next->u.row.n_in, 0);
}

static void test_ast_helpers(void **state) {
  (void)state;
  AstNode *a = ast_num(&P.arena, (Loc){0}, 1), *b = ast_num(&P.arena, (Loc){0}, 2);
  AstNode *list = ast_append(ast_append(NULL, a), b);
  assert_ptr_equal(list, a);
  assert_ptr_equal(a->next, b);
  assert_int_equal(ast_length(list), 2);
  assert_string_equal(ast_binop_text(BIN_DOT), "\xc2\xb7");
  assert_string_equal(ast_binop_text(BIN_POW), "^");
}

static void test_strings_transpose_classes(void **state) {
  (void)state;
  parse_text("model m {\n  target y : class(10)\n  z = W\xe1\xb5\x80 @ x^a\xe1\xb5\x80\n}\n"
             "train m { data = csv(\"d.csv\", classes = [\"a\"]) }\n");
  assert_int_equal(P.errors, 0);
  const AstNode *target = P.tree->u.block.items;
  assert_int_equal(target->kind, AST_TARGET);
  assert_null(target->u.decl.dims);
  assert_int_equal(target->u.decl.value->kind, AST_CALL);
  assert_string_equal(target->u.decl.value->u.call.name, "class");
  /* Wᵀ @ (x ^ (aᵀ)): the postfix binds tightest. */
  const AstNode *z = target->next->u.decl.value;
  assert_int_equal(z->kind, AST_BINARY);
  const AstNode *wt = z->u.binary.lhs;
  assert_int_equal(wt->kind, AST_CALL);
  assert_string_equal(wt->u.call.name, "transpose");
  assert_int_equal(ast_length(wt->u.call.args), 1);
  assert_int_equal(wt->loc.col, 7);
  assert_int_equal(wt->loc.len, 4);
  assert_int_equal(wt->u.call.name_loc.col, 8);
  const AstNode *pow = z->u.binary.rhs;
  assert_int_equal(pow->u.binary.op, BIN_POW);
  assert_string_equal(pow->u.binary.rhs->u.call.name, "transpose");
  const AstNode *csv = P.tree->next->u.block.items->u.decl.value;
  assert_int_equal(csv->u.call.args->kind, AST_STRING);
  assert_string_equal(csv->u.call.args->u.str.value, "d.csv");
  assert_int_equal(csv->u.call.args->u.str.len, 5);
  assert_int_equal(csv->u.call.args->loc.len, 7);
}

/* --- syntax errors ------------------------------------------------------------------------ */

static void expect_diags(const char *text, const char *want) {
  parse_text(text);
  assert_string_equal(P.diags, want);
}

static void test_missing_paren(void **state) {
  (void)state;
  expect_diags("model m {\n  x = (a relu\n}\n", "error|t.nn|2|10|expected ')' before 'relu'\n");
  /* The newline inside the parenthesis is no separator: the next line is the offender. */
  expect_diags("model m {\n  x = (a + b\n  y = relu(x)\n}\n",
               "error|t.nn|3|3|expected ')' before 'y'\n");
}

static void test_unexpected_brace(void **state) {
  (void)state;
  expect_diags("model m {\n}\n}\n", "error|t.nn|3|1|unexpected '}'\n");
  expect_diags("model m { x = (a)) }", "error|t.nn|1|18|unexpected ')'\n");
}

static void test_expected_expression(void **state) {
  (void)state;
  expect_diags("model m { x = ; }", "error|t.nn|1|15|expected expression before ';'\n");
  expect_diags("model m {\n  loss = 1 *\n}",
               "error|t.nn|2|13|expected expression before end of line\n");
}

static void test_other_expectations(void **state) {
  (void)state;
  expect_diags("model m {\n  x = a b\n}", "error|t.nn|2|9|expected newline or ';' before 'b'\n");
  expect_diags("model m {\n  3\n}", "error|t.nn|2|3|expected statement before '3'\n");
  expect_diags("model m { input 3 }", "error|t.nn|1|17|expected identifier before '3'\n");
  expect_diags("model m { x = [1, 2) }", "error|t.nn|1|20|expected ']' before ')'\n");
  expect_diags("foo", "error|t.nn|1|1|expected 'model' or 'train' before 'foo'\n");
  expect_diags("model m\n{ }", "error|t.nn|1|8|expected '{' before end of line\n");
}

static void test_unterminated(void **state) {
  (void)state;
  expect_diags("model m {\n  x = 1\n",
               "error|t.nn|3|1|the model block 'm' is not closed: expected '}' before end of file\n"
               "note|t.nn|1|9|the model block 'm' opens here\n");
  expect_diags("model m {\n  x = f(1,\n  2", "error|t.nn|3|4|expected ')' before end of file\n");
  expect_diags("model m { x = table { 0 ->", "error|t.nn|1|27|expected '}' before end of file\n");
}

static void test_recovery_reports_each_statement(void **state) {
  (void)state;
  expect_diags("model m {\n  a = 1 +* 2\n  b = 2\n  c = )\n}\n",
               "error|t.nn|2|10|expected expression before '*'\n"
               "error|t.nn|4|7|expected expression before ')'\n");
  assert_int_equal(P.errors, 2);
  /* The statements around the bad ones are kept. */
  assert_int_equal(ast_length(P.tree->u.block.items), 1);
  expect_diags("model m { a = 1 +; b = 2; c = ) }",
               "error|t.nn|1|18|expected expression before ';'\n"
               "error|t.nn|1|31|expected expression before ')'\n");
}

static void test_recovery_in_tables_and_blocks(void **state) {
  (void)state;
  expect_diags("train t {\n  data = table { 0 x -> 1; 1 -> 0 }\n  epochs = 1 2\n}\n",
               "error|t.nn|2|20|expected number or '->' before 'x'\n"
               "error|t.nn|3|14|expected newline or ';' before '2'\n");
  /* A broken header costs the block, not the next one. */
  expect_diags("model 3 {\n  x = 1\n}\ntrain t {\n  epochs = 1 2\n}\n",
               "error|t.nn|1|7|expected identifier before '3'\n"
               "error|t.nn|5|14|expected newline or ';' before '2'\n");
}

static void test_dimensions(void **state) {
  (void)state;
  expect_diags("model m { input x[0, 2.5, -1, 3] }",
               "error|t.nn|1|19|dimension must be a positive integer\n"
               "error|t.nn|1|22|dimension must be a positive integer\n"
               "error|t.nn|1|27|dimension must be a positive integer\n");
}

static void test_string_syntax_errors(void **state) {
  (void)state;
  /* A string is an expression like any other; one that runs to the end of the line is one
   * lexical error, not a cascade. */
  expect_diags("train m { x = \"a\" \"b\" }", "error|t.nn|1|19|expected newline or ';' before "
               "'\"b\"'\n");
  expect_diags("train m {\n  x = \"a\n  y = 1\n}\n",
               "error|t.nn|2|7|unterminated string\n"
               "hint|close it with '\"' on the same line: a string cannot span lines\n");
  expect_diags("model m { target y : }", "error|t.nn|1|22|expected expression before '}'\n");
  expect_diags("model m { x = \xe1\xb5\x80 }", "error|t.nn|1|15|expected expression before "
               "'\xe1\xb5\x80'\n");
}

/* --- lexical errors and hostile input ---------------------------------------------------- */

static void test_number_out_of_range(void **state) {
  (void)state;
  expect_diags("model m { x = 1e999 }", "error|t.nn|1|15|number out of range\n");
  assert_int_equal(P.errors, 1);
}

static void test_stray_characters(void **state) {
  (void)state;
  expect_diags("model m {\n  x = 1 $ 2\n  y = 3 \x80\n  z = \xc3\xa9\n}\n",
               "error|t.nn|2|9|unexpected character '$'\n"
               "error|t.nn|3|9|stray '\\x80' in program\n"
               "error|t.nn|4|7|unexpected character '\xc3\xa9'\n");
}

static void test_nul_bytes(void **state) {
  (void)state;
  static const char text[] = "model m {\n  x = 1\0\n}\n\0";
  parse_bytes(text, sizeof text - 1);
  assert_string_equal(P.diags, "error|t.nn|2|8|stray '\\x00' in program\n"
                               "error|t.nn|4|1|stray '\\x00' in program\n");
}

static void test_random_bytes(void **state) {
  (void)state;
  srand(7);
  for (int round = 0; round < 50; round++) {
    char bytes[512];
    for (size_t i = 0; i < sizeof bytes; i++)
      bytes[i] = (char)(rand() & 0xff);
    parse_bytes(bytes, sizeof bytes);
    assert_true(P.errors > 0);
    teardown(NULL);
  }
}

static char *repeat(const char *head, const char *unit, int n, const char *tail) {
  size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
  char *s = arena_alloc(&P.arena, hl + ul * (size_t)n + tl + 1);
  memcpy(s, head, hl);
  for (int i = 0; i < n; i++)
    memcpy(s + hl + ul * (size_t)i, unit, ul);
  memcpy(s + hl + ul * (size_t)n, tail, tl);
  return s;
}

static void test_deep_nesting(void **state) {
  (void)state;
  parse_text(repeat("model m { x = ", "(", 10000, "1 }"));
  assert_string_equal(P.diags, "error|t.nn|1|271|brackets nested too deeply (the limit is 256)\n");
  /* 256 levels are fine, in any mix of brackets. */
  parse_text(repeat("model m { x = ", "f([(", 85, "1 }"));
  assert_string_equal(P.diags, "error|t.nn|1|357|expected ')' before '}'\n");
}

static void test_long_chains(void **state) {
  (void)state;
  /* Where the parser's stack runs out depends on the grammar's tables: the column is free. */
  parse_text(repeat("model m { x = ", "-", 100000, "1 }"));
  assert_int_equal(P.errors, 1);
  assert_non_null(strstr(P.diags, "|expression nested too deeply (the parser's limit is 10000 levels)\n"));
  parse_text(repeat("model m { x = ", "a + ", 5000, "1 }"));
  assert_string_equal(P.diags,
                      "error|t.nn|1|15|expression too long (more than 4096 operators)\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_goldens, teardown),
      cmocka_unit_test_teardown(test_decl_locs_span_statement, teardown),
      cmocka_unit_test_teardown(test_train_assignments_are_settings, teardown),
      cmocka_unit_test_teardown(test_counts_and_unnamed_output, teardown),
      cmocka_unit_test_teardown(test_ast_helpers, teardown),
      cmocka_unit_test_teardown(test_strings_transpose_classes, teardown),
      cmocka_unit_test_teardown(test_string_syntax_errors, teardown),
      cmocka_unit_test_teardown(test_missing_paren, teardown),
      cmocka_unit_test_teardown(test_unexpected_brace, teardown),
      cmocka_unit_test_teardown(test_expected_expression, teardown),
      cmocka_unit_test_teardown(test_other_expectations, teardown),
      cmocka_unit_test_teardown(test_unterminated, teardown),
      cmocka_unit_test_teardown(test_recovery_reports_each_statement, teardown),
      cmocka_unit_test_teardown(test_recovery_in_tables_and_blocks, teardown),
      cmocka_unit_test_teardown(test_dimensions, teardown),
      cmocka_unit_test_teardown(test_number_out_of_range, teardown),
      cmocka_unit_test_teardown(test_stray_characters, teardown),
      cmocka_unit_test_teardown(test_nul_bytes, teardown),
      cmocka_unit_test_teardown(test_random_bytes, teardown),
      cmocka_unit_test_teardown(test_deep_nesting, teardown),
      cmocka_unit_test_teardown(test_long_chains, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
