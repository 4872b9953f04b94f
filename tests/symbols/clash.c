/* clash: a user program that defines, for its own purposes, every name libnnrt.a exported
 * before its symbols carried the nnrt_ prefix (json_init, cli_say, data_fail, ...), and embeds
 * a model compiled by `nnc -c` (xor.h, xor.o). Linked with the whole runtime library, it must
 * link (no duplicate symbol) and both its own functions and the model must work. */
#include <stdio.h>
#include <string.h>

#include "xor.h"

/* Some as functions with the program's own meaning... */
int json_init(const char *s);
int cli_say(const char *s);
int data_fail(int code);
double data_scaled(double v);
int json_init(const char *s) { return (int)strlen(s); }
int cli_say(const char *s) { return printf("said: %s\n", s) > 0; }
int data_fail(int code) { return code + 1; }
double data_scaled(double v) { return v * 2; }

/* ...and the rest as variables. */
#define OLD(name) int name = 1;
OLD(checkpoint_add_param) OLD(checkpoint_add_params) OLD(checkpoint_add_stats)
OLD(checkpoint_add_tensor) OLD(checkpoint_commit) OLD(checkpoint_free_tensors)
OLD(checkpoint_loader_free) OLD(checkpoint_loader_parse) OLD(checkpoint_match_entries)
OLD(checkpoint_read_all) OLD(checkpoint_tensor_bytes) OLD(cli_closest) OLD(cli_cmd_eval)
OLD(cli_cmd_predict) OLD(cli_cmd_train) OLD(cli_data_with_paths) OLD(cli_default_weights_path)
OLD(cli_file_data) OLD(cli_is_help_flag) OLD(cli_load_dataset) OLD(cli_load_weights)
OLD(cli_parse_args) OLD(cli_plural) OLD(cli_print_command_help) OLD(cli_stats_new)
OLD(cli_usage_error) OLD(data_alloc_rows) OLD(data_check_clean_end) OLD(data_grow_rows)
OLD(data_load_csv) OLD(data_load_idx) OLD(data_open_gz) OLD(data_put_label) OLD(data_read_gz)
OLD(data_shrink_to_rows) OLD(data_target_value) OLD(json_at_end) OLD(json_eat)
OLD(json_expect) OLD(json_next_element) OLD(json_next_member) OLD(json_skip_value)
OLD(json_string) OLD(json_uint)

int main(void) {
  const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1}, y[4] = {0, 1, 1, 0};
  xor_ctx *c = xor_create(1);
  if (!c)
    return 1;
  float loss = 0;
  for (int i = 0; i < 2000; i++)
    loss = xor_train_batch(c, x, y, 4, 2.0f);
  float out[4];
  xor_predict(c, x, 4, out);
  xor_free(c);
  cli_say("hello");
  printf("json_init %d data_fail %d data_scaled %g json_string %d\n", json_init("abc"),
         data_fail(2), data_scaled(1.5), json_string);
  printf("loss %s\n", loss < 0.05f ? "small" : "large");
  printf("xor %d%d%d%d\n", out[0] > 0.5f, out[1] > 0.5f, out[2] > 0.5f, out[3] > 0.5f);
  return 0;
}
