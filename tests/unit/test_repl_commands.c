/* test_repl_commands: the REPL's table of `:` commands (repl_cmd.c). Every row has a name,
 * arguments, help and a handler; :help lists each command at the start of a line; every name and
 * other name finds its own row and no name is taken twice. A command added to the table is
 * checked here without a change to this file. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl_internal.h"

static void test_rows_are_complete(void **state) {
  (void)state;
  assert_true(repl_n_commands > 0);
  for (size_t i = 0; i < repl_n_commands; i++) {
    const ReplCommand *c = &repl_commands[i];
    assert_non_null(c->name);
    if (!c->name[0] || !c->args || !c->help || !c->help[0] || !c->run)
      fail_msg("command ':%s' lacks arguments, help or a handler", c->name);
    if (c->help[strlen(c->help) - 1] == '\n')
      fail_msg("the help of ':%s' ends in a line break", c->name);
  }
}

static void test_every_name_finds_its_row(void **state) {
  (void)state;
  for (size_t i = 0; i < repl_n_commands; i++) {
    const ReplCommand *c = &repl_commands[i];
    if (repl_find_command(c->name) != c)
      fail_msg("':%s' finds another row (a name taken twice?)", c->name);
    for (size_t k = 0; k < sizeof c->alias / sizeof *c->alias && c->alias[k]; k++)
      if (repl_find_command(c->alias[k]) != c)
        fail_msg("':%s', another name of ':%s', finds another row", c->alias[k], c->name);
  }
  assert_null(repl_find_command("frobnicate"));
  assert_null(repl_find_command(""));
}

static void test_help_lists_each_command(void **state) {
  (void)state;
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  assert_non_null(out);
  repl_print_help(out);
  fclose(out);
  for (size_t i = 0; i < repl_n_commands; i++) {
    const ReplCommand *c = &repl_commands[i];
    char line[128];
    snprintf(line, sizeof line, "\n  :%s%s%s", c->name, c->args[0] ? " " : "", c->args);
    const char *at = strstr(text, line);
    if (!at)
      fail_msg(":help does not list ':%s'", c->name);
    /* its help follows on the same line or the next one */
    const char *first = c->help;
    size_t n = strcspn(first, "\n");
    char want[128];
    snprintf(want, sizeof want, "%.*s\n", (int)n, first);
    const char *help = strstr(at + 1, want);
    const char *next = strchr(strchr(at + 1, '\n') + 1, '\n'); /* the end of the next line */
    if (!help || help > (next ? next : text + len))
      fail_msg(":help does not describe ':%s' after its name", c->name);
  }
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rows_are_complete),
    cmocka_unit_test(test_every_name_finds_its_row),
    cmocka_unit_test(test_help_lists_each_command),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
