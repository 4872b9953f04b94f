/* test_cli: the command line of generated programs (cli.c), its progress reports (report.c) and
 * its `info` table (info.c), against a hand-written classifier "clf" whose outputs are its
 * inputs (so predictions, accuracy and the confusion matrix are known), whose step writes loss
 * 0.5 and whose evaluate writes loss 0.25. Files go to a fresh directory under /tmp. */
#include "test.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "nnrt.h"

#define TEST_TMP_DIR "/tmp/nnrt-cli-XXXXXX"
#include "runtime_fixture.h"

/* ---- The fixture ---- */

enum {
  CW = 0,     /* param w [1] */
  CLR = 1,    /* learning rate */
  CLOSS = 2,  /* loss */
  CSTEP = 3,  /* step number */
  CX = 4,     /* input: CB rows of 3 */
  CY = 16,    /* target: CB rows of 3 */
  COUT = 28,  /* output: CB rows of 3 */
  CWS = 40,
  CB = 4,
  CROWS = 6,
};

static void copy_through(float *ws, int64_t n) {
  memcpy(ws + COUT, ws + CX, (size_t)(3 * n) * sizeof(float));
}
static void clf_step(float *ws, int64_t n) {
  copy_through(ws, n);
  ws[CLOSS] = 0.5f;
}
static void clf_evaluate(float *ws, int64_t n) {
  copy_through(ws, n);
  ws[CLOSS] = 0.25f;
}
static void clf_predict(float *ws, int64_t n) { copy_through(ws, n); }

static const NnrtParam clf_params[] = {
  {.name = "w", .offset = CW, .size = 1, .rank = 1, .dim = {1}, .init = NNRT_INIT_ZEROS,
   .role = NNRT_ROLE_PARAM},
};
/* Predicted classes (argmax of x) 0 1 2 0 2 1 against labels 0 1 2 1 0 1. */
static const float clf_x[CROWS * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0};
static const float clf_labels[CROWS] = {0, 1, 2, 1, 0, 1};
static const NnrtLayer clf_layers[] = {
  {.name = "hidden", .op = "matmul", .rank = 1, .dim = {128}, .params = 512, .flops = 1024},
  {.name = "scores", .op = "add", .rank = 2, .dim = {3, 2}, .params = 7, .flops = 6},
  {.name = "probs", .op = "softmax", .rank = 1, .dim = {3}, .params = 0, .flops = 1234567},
};

static const NnrtModel clf = FIXTURE_MODEL(
  "clf", "clf.nn", CWS, CB, FIXTURE_SLOT("x", CX, 3), FIXTURE_SLOT("p", COUT, 3),
  FIXTURE_TRAINS(FIXTURE_SLOT("y", CY, 3), CLOSS, CLR, CSTEP),
  .n_params = 1, .params = clf_params,
  .n_classes = 3, .metric = NNRT_METRIC_ARGMAX,
  .has_train = 1, .epochs = 3, .batch = 4, .log_every = 2, .seed = 5, .shuffle = 0, .lr = 0.1,
  .train = {.kind = NNRT_DATA_TABLE, .rows = CROWS, .x = clf_x, .y = clf_labels},
  .step = clf_step, .evaluate = clf_evaluate, .predict = clf_predict,
  .n_layers = 3, .layers = clf_layers,
  .mem_params = 1, .mem_state = 0, .mem_other = 39);

static const int32_t csv_y[1] = {3};
static const char *const csv_names[3] = {"cat", "dog", "eel"};

/* clf reading a CSV file "a,b,c,label" with class names. */
static NnrtModel csv_model(const char *path) {
  NnrtModel m = clf;
  m.train = (NnrtData){.kind = NNRT_DATA_CSV, .path = path, .delimiter = ',', .n_y_cols = 1,
                       .y_cols = csv_y, .n_class_names = 3, .class_names = csv_names};
  return m;
}

/* ---- Helpers ---- */

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

/* Weights for argv0 (argv0.safetensors): w = 0. */
static void save_weights(const NnrtModel *m, const char *argv0) {
  char path[4200];
  snprintf(path, sizeof path, "%s.safetensors", argv0);
  float *ws = nnrt_workspace_new(m);
  assert_non_null(ws);
  assert_int_equal(nnrt_save(m, ws, path, err, sizeof err), 0);
  nnrt_workspace_free(ws);
}

/* run_cli with `input` as standard input. */
static int run_cli_in(const NnrtModel *m, const char *input, int argc, const char **argv) {
  FILE *in = tmpfile(), *out = tmpfile(), *errf = tmpfile();
  assert_non_null(in);
  fputs(input, in);
  rewind(in);
  int rc = nnrt_main_io(m, argc, (char **)argv, in, out, errf);
  out_text = read_stream(out);
  err_text = read_stream(errf);
  fclose(in);
  fclose(out);
  fclose(errf);
  return rc;
}
#define RUN_IN(m, input, ...) \
  run_cli_in(m, input, (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)), \
             (const char *[]){__VA_ARGS__})

/* err_text must be "clf: MESSAGE\n" optionally followed by the --help hint. */
static void expect_message(const char *message) {
  char want[1024];
  snprintf(want, sizeof want, "clf: %s\n", message);
  if (strncmp(err_text, want, strlen(want)) != 0)
    fail_msg("stderr is '%s', expected it to start with '%s'", err_text, want);
}

static int count_of(const char *s, const char *what) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
    n++;
  return n;
}

/* ---- Usage errors ---- */

static void test_unknown_command_and_option(void **state) {
  (void)state;
  assert_int_equal(RUN(&clf, "./clf", "trian"), NNRT_EXIT_USAGE);
  assert_string_equal(err_text, "clf: unknown command 'trian'; did you mean 'train'?\n"
                                "Try './clf --help' for usage.\n");
  assert_int_equal(RUN(&clf, "./clf", "frobnicate"), NNRT_EXIT_USAGE);
  assert_string_equal(err_text, "clf: unknown command 'frobnicate'\n"
                                "Try './clf --help' for usage.\n");
  assert_int_equal(RUN(&clf, "./clf", "train", "--epoch", "3"), NNRT_EXIT_USAGE);
  assert_string_equal(err_text, "clf: unknown option '--epoch' for train; did you mean "
                                "'--epochs'?\nTry './clf --help' for usage.\n");
  assert_int_equal(RUN(&clf, "./clf", "--frobnicate"), NNRT_EXIT_USAGE);
  expect_message("unknown option '--frobnicate' for train");
  assert_int_equal(RUN(&clf, "./clf", "predict", "--epochs", "3"), NNRT_EXIT_USAGE);
  expect_message("unknown option '--epochs' for predict");
  assert_int_equal(RUN(&clf, "./clf", "eval", "--weight", "w"), NNRT_EXIT_USAGE);
  expect_message("unknown option '--weight' for eval; did you mean '--weights'?");
  assert_int_equal(RUN(&clf, "./clf", "info", "extra"), NNRT_EXIT_USAGE);
  expect_message("unexpected argument 'extra' for info");
  assert_int_equal(RUN(&clf, "./clf", "train", "stray"), NNRT_EXIT_USAGE);
  expect_message("unexpected argument 'stray' for train");
  assert_string_equal(out_text, "");
}

static void test_bad_values(void **state) {
  (void)state;
  static const struct {
    const char *flag, *value, *message;
  } cases[] = {
    {"--epochs", "0", "--epochs expects a positive integer, got '0'"},
    {"--epochs", "3x", "--epochs expects a positive integer, got '3x'"},
    {"--batch", "-1", "--batch expects a positive integer, got '-1'"},
    {"--threads", "0", "--threads expects a positive integer, got '0'"},
    {"--lr", "0", "--lr expects a positive number, got '0'"},
    {"--lr", "nan", "--lr expects a positive number, got 'nan'"},
    {"--seed", "-3", "--seed expects an integer from 0 to 2^64-1, got '-3'"},
    {"--log-every", "-1", "--log-every expects an integer >= 0, got '-1'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    assert_int_equal(RUN(&clf, "./clf", "train", cases[i].flag, cases[i].value),
                     NNRT_EXIT_USAGE);
    expect_message(cases[i].message);
  }
  assert_int_equal(RUN(&clf, "./clf", "train", "--epochs"), NNRT_EXIT_USAGE);
  expect_message("option '--epochs' needs a value");
  /* --flag=value works like --flag value. */
  assert_int_equal(RUN(&clf, "./clf", "train", "--epochs=0"), NNRT_EXIT_USAGE);
  expect_message("--epochs expects a positive integer, got '0'");
}

static void test_threads_and_batch_limits(void **state) {
  (void)state;
  assert_int_equal(RUN(&clf, "./clf", "train", "--threads", "257"), NNRT_EXIT_USAGE);
  expect_message("--threads: at most 256, got 257");
  assert_int_equal(RUN(&clf, "./clf", "--batch", "5"), NNRT_EXIT_USAGE);
  expect_message("model 'clf' was compiled for batches of at most 4 rows (train block batch "
                 "= 4): its workspace is laid out for that many rows when it is compiled; to "
                 "train with 5, set batch = 5 in the train block of clf.nn and compile again (a "
                 "smaller --batch needs no recompiling)");
  assert_int_equal(RUN(&clf, "./clf", "train", "--resume", "a", "--init", "b"),
                   NNRT_EXIT_USAGE);
  expect_message("--resume and --init cannot be used together: --resume continues a run, "
                 "--init starts a new one from given weights");
  /* A table model has no data file to replace. */
  assert_int_equal(RUN(&clf, "./clf", "train", "--data", "x.csv"), NNRT_EXIT_USAGE);
  expect_message("--data: model 'clf' trains on a data table in its source; it has no data "
                 "file to replace");
  assert_int_equal(RUN(&clf, "./clf", "eval", "--data", "x.csv"), NNRT_EXIT_USAGE);
  assert_int_equal(RUN(&clf, "./clf", "train", "--validate", "x.csv"), NNRT_EXIT_USAGE);
  /* IDX data takes two paths. */
  NnrtModel idx = clf;
  idx.train = (NnrtData){.kind = NNRT_DATA_IDX, .path = "i", .labels_path = "l"};
  assert_int_equal(RUN(&idx, "./clf", "train", "--data", "images"), NNRT_EXIT_USAGE);
  expect_message("--data needs two paths for IDX data: the images, then the labels");
  assert_int_equal(RUN(&idx, "./clf", "train", "--data", tmp_path("no-images"),
                       tmp_path("no-labels"), "--epochs", "1"),
                   NNRT_EXIT_IO);
  assert_non_null(strstr(err_text, "no-images': No such file or directory"));
}

static void test_help(void **state) {
  (void)state;
  assert_int_equal(RUN(&clf, "./clf", "--help"), NNRT_EXIT_OK);
  const char *codes[] = {"  0    ok\n", "  1    bad data or input", "  2    usage",
                         "  3    I/O error", "non-finite\n       value during training",
                         "  130  interrupted"};
  for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
    assert_non_null(strstr(out_text, codes[i]));
  const char *flags[] = {"--epochs N", "--batch B", "--lr X", "--seed S", "--threads T",
                         "--log-every K", "--data", "--validate", "--save PATH", "--resume PATH", "--init PATH",
                         "--log-json PATH", "--plot PATH", "--weights PATH", "predict -",
                         "  eval ", "  info "};
  for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
    if (!strstr(out_text, flags[i]))
      fail_msg("--help does not mention '%s'", flags[i]);
  assert_string_equal(err_text, "");
  /* Each command's help: its own options and the exit codes. */
  const char *cmds[] = {"train", "predict", "eval", "info"};
  const char *own[] = {"--log-json PATH", "predict -", "confusion", "FLOPs per"};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(RUN(&clf, "./clf", cmds[i], "--help"), NNRT_EXIT_OK);
    assert_non_null(strstr(out_text, own[i]));
    assert_non_null(strstr(out_text, "  130  interrupted"));
  }
  assert_int_equal(RUN(&clf, "./clf", "predict", "-h"), NNRT_EXIT_OK);
  assert_null(strstr(out_text, "--log-json"));
}

/* ---- predict ---- */

static void test_predict_values_and_stdin(void **state) {
  (void)state;
  const char *argv0 = tmp_path("clf");
  save_weights(&clf, argv0);
  assert_int_equal(RUN(&clf, argv0, "predict", "0.5", "2", "-1"), NNRT_EXIT_OK);
  assert_string_equal(out_text, "0.5 2 -1  class 1\n");
  assert_int_equal(RUN_IN(&clf, "1 0 0\n0,1,0\n\n 0.5 , 0.25,3 \r\n-1\t-2 -0.5\n", argv0,
                          "predict", "-"),
                   NNRT_EXIT_OK);
  assert_string_equal(out_text, "1 0 0  class 0\n0 1 0  class 1\n0.5 0.25 3  class 2\n"
                                "-1 -2 -0.5  class 2\n");
  assert_string_equal(err_text, "");
  /* A bad line names its number (blank lines count) and exits 1, after the answers to the
   * lines before it (a stream is answered line by line). */
  assert_int_equal(RUN_IN(&clf, "1 0 0\n\n1 2\n0 1 0\n", argv0, "predict", "-"),
                   NNRT_EXIT_DATA);
  assert_string_equal(err_text, "clf: standard input, line 3: expected 3 values, got 2\n");
  assert_string_equal(out_text, "1 0 0  class 0\n");
  assert_int_equal(RUN_IN(&clf, "1 x 0\n", argv0, "predict", "-"), NNRT_EXIT_DATA);
  assert_string_equal(err_text,
                      "clf: standard input, line 1: value 2 ('x') is not a finite number\n");
  assert_int_equal(RUN_IN(&clf, "1,,0\n", argv0, "predict", "-"), NNRT_EXIT_DATA);
  assert_string_equal(err_text, "clf: standard input, line 1: value 2 is empty\n");
  assert_int_equal(RUN_IN(&clf, "", argv0, "predict", "-"), NNRT_EXIT_OK);
  assert_string_equal(out_text, "");
  /* Only one source of inputs. */
  assert_int_equal(RUN_IN(&clf, "", argv0, "predict", "-", "1"), NNRT_EXIT_USAGE);
  expect_message("predict takes input values, '-' (standard input) or --data, only one");
  assert_int_equal(RUN(&clf, argv0, "predict", "1", "2"), NNRT_EXIT_USAGE);
  expect_message("predict expects 3 input values, got 2");
  /* Missing weights: I/O. */
  assert_int_equal(RUN_IN(&clf, "1 0 0\n", tmp_path("untrained"), "predict", "-"), NNRT_EXIT_IO);
  assert_non_null(strstr(err_text, "no trained weights at"));
  assert_int_equal(RUN(&clf, argv0, "predict", "--weights", tmp_path("nope"), "1", "2", "3"),
                   NNRT_EXIT_IO);
}

static void test_predict_data_csv(void **state) {
  (void)state;
  const char *csv = tmp_path("rows.csv");
  write_text(csv, "1,0,0,cat\n0,0.5,2,dog\n3,1,1,eel\n");
  NnrtModel m = csv_model(csv);
  const char *argv0 = tmp_path("csvclf");
  save_weights(&m, argv0);
  assert_int_equal(RUN(&m, argv0, "predict", "--data", csv), NNRT_EXIT_OK);
  assert_string_equal(out_text, "1 0 0  class cat\n0 0.5 2  class eel\n3 1 1  class cat\n");
  assert_int_equal(RUN(&m, argv0, "predict", "--data", tmp_path("absent.csv")), NNRT_EXIT_IO);
  assert_non_null(strstr(err_text, "absent.csv': No such file or directory"));
  const char *bad = tmp_path("bad.csv");
  write_text(bad, "1,0,0,cat\n1,zz,0,dog\n");
  assert_int_equal(RUN(&m, argv0, "predict", "--data", bad), NNRT_EXIT_DATA);
  assert_non_null(strstr(err_text, "line 2"));
  assert_int_equal(RUN(&m, argv0, "predict", "--data", csv, "1", "2", "3"), NNRT_EXIT_USAGE);
  /* Inputs alone, with or without a header (detected, whatever the train block says). */
  const char *bare = tmp_path("bare.csv"), *named = tmp_path("named.csv");
  write_text(bare, "1,0,0\n0,0.5,2\n3,1,1\n");
  write_text(named, "a,b,c\n1,0,0\n0,0.5,2\n3,1,1\n");
  const char *want = "1 0 0  class cat\n0 0.5 2  class eel\n3 1 1  class cat\n";
  assert_int_equal(RUN(&m, argv0, "predict", "--data", bare), NNRT_EXIT_OK);
  assert_string_equal(out_text, want);
  assert_int_equal(RUN(&m, argv0, "predict", "--data", named), NNRT_EXIT_OK);
  assert_string_equal(out_text, want);
  /* --probs labels the outputs with the class names. */
  assert_int_equal(RUN(&m, argv0, "predict", "--probs", "--data", bare), NNRT_EXIT_OK);
  assert_string_equal(out_text, "cat=1 dog=0 eel=0  class cat\ncat=0 dog=0.5 eel=2  class eel\n"
                                "cat=3 dog=1 eel=1  class cat\n");
}

/* ---- eval ---- */

static void test_eval_confusion_matrix(void **state) {
  (void)state;
  const char *argv0 = tmp_path("clf");
  save_weights(&clf, argv0);
  assert_int_equal(RUN(&clf, argv0, "eval"), NNRT_EXIT_OK);
  assert_string_equal(out_text,
                      "loss 0.250000\n"
                      "accuracy 0.6667\n"
                      "confusion matrix (rows: true class, columns: predicted class)\n"
                      "true\\pred  0  1  2\n"
                      "        0  1  0  1\n"
                      "        1  1  2  0\n"
                      "        2  0  0  1\n"
                      "class      precision  recall      f1  support\n"
                      "0             0.5000  0.5000  0.5000        2\n"
                      "1             1.0000  0.6667  0.8000        3\n"
                      "2             0.5000  1.0000  0.6667        1\n"
                      "macro avg     0.6667  0.7222  0.6556        6\n");
  assert_string_equal(err_text, "");
  /* validation_split: the last third of the rows (labels 1 0, predictions 2 1 ... rows 5-6). */
  NnrtModel split = clf;
  split.validation_split = 0.34;
  assert_int_equal(RUN(&split, argv0, "eval"), NNRT_EXIT_OK);
  assert_non_null(strstr(out_text, "accuracy 0.5000\n"));
  /* --data with class names labels the matrix with them. */
  const char *csv = tmp_path("eval.csv");
  write_text(csv, "1,0,0,cat\n0,1,0,cat\n0,0,1,eel\n0,1,0,dog\n");
  NnrtModel m = csv_model(tmp_path("train-absent.csv"));
  save_weights(&m, tmp_path("csvclf"));
  assert_int_equal(RUN(&m, tmp_path("csvclf"), "eval", "--data", csv), NNRT_EXIT_OK);
  assert_string_equal(out_text,
                      "loss 0.250000\n"
                      "accuracy 0.7500\n"
                      "confusion matrix (rows: true class, columns: predicted class)\n"
                      "true\\pred  cat  dog  eel\n"
                      "      cat    1    1    0\n"
                      "      dog    0    1    0\n"
                      "      eel    0    0    1\n"
                      "class      precision  recall      f1  support\n"
                      "cat           1.0000  0.5000  0.6667        2\n"
                      "dog           0.5000  1.0000  0.6667        1\n"
                      "eel           1.0000  1.0000  1.0000        1\n"
                      "macro avg     0.8333  0.8333  0.7778        4\n");
  /* Without --data the train block's missing file is an I/O error. */
  assert_int_equal(RUN(&m, tmp_path("csvclf"), "eval"), NNRT_EXIT_IO);
  assert_non_null(strstr(err_text, "train-absent.csv': No such file or directory"));
  /* A model without a train block has nothing to evaluate against. */
  NnrtModel plain = clf;
  plain.has_train = 0;
  assert_int_equal(RUN(&plain, argv0, "eval"), NNRT_EXIT_USAGE);
  expect_message("model 'clf' has no train block: there is no loss to evaluate");
}

/* ---- info ---- */

static void test_info_table(void **state) {
  (void)state;
  assert_int_equal(RUN(&clf, "./clf", "info"), NNRT_EXIT_OK);
  assert_string_equal(out_text,
                      "Model 'clf' (from clf.nn)\n"
                      "\n"
                      "Layer   Op       Output shape  Params  FLOPs/sample\n"
                      "------  -------  ------------  ------  ------------\n"
                      "hidden  matmul   (N, 128)         512         1,024\n"
                      "scores  add      (N, 3, 2)          7             6\n"
                      "probs   softmax  (N, 3)             0     1,234,567\n"
                      "------  -------  ------------  ------  ------------\n"
                      "Total                             519     1,235,597\n"
                      "\n"
                      "Input 'x': 3 values per row; output 'p': 3 values per row\n"
                      "\n"
                      "Memory plan for batches of at most 4 rows (floats of 4 bytes):\n"
                      "  parameters              1 floats    4 B\n"
                      "  optimiser state         0 floats    0 B\n"
                      "  activations and other  39 floats  156 B\n"
                      "  peak (workspace)       40 floats  160 B\n");
  NnrtModel big = clf;
  big.mem_other = 3 * 1024 * 1024;
  big.mem_state = 1000;
  assert_int_equal(RUN(&big, "./clf", "info"), NNRT_EXIT_OK);
  assert_non_null(strstr(out_text, "  activations and other  3,145,728 floats  12.0 MiB\n"));
  assert_non_null(strstr(out_text, "  optimiser state            1,000 floats   3.9 KiB\n"));
  assert_non_null(strstr(out_text, "  peak (workspace)              40 floats     160 B\n"));
}

/* ---- train ---- */

static void test_train_output_is_plain_off_a_terminal(void **state) {
  (void)state;
  const char *argv0 = tmp_path("plain");
  const char *json = tmp_path("log.json"), *svg = tmp_path("plot.svg");
  assert_int_equal(RUN(&clf, argv0, "train", "--epochs", "5", "--lr", "0.5", "--batch", "2",
                       "--threads", "1", "--log-json", json, "--plot", svg),
                   NNRT_EXIT_OK);
  assert_string_equal(err_text, "");
  assert_null(strchr(out_text, '\r'));
  assert_null(strchr(out_text, '\033'));
  /* log_every 2: epochs 1, 2, 4 and the last, one plain line each. */
  assert_int_equal(count_of(out_text, "epoch "), 4);
  assert_non_null(strstr(out_text, "epoch 1/5  loss 0.500000  accuracy 0.6667  "));
  assert_non_null(strstr(out_text, "final loss 0.500000\n"));
  /* The JSON log has every epoch, with the lr given. */
  char *text = test_read_file(json, NULL);
  assert_non_null(text);
  assert_int_equal(count_of(text, "\n"), 5);
  assert_int_equal(count_of(text, "\"lr\": 0.5,"), 5);
  assert_non_null(strstr(text, "{\"epoch\": 5, \"loss\": 0.5, \"accuracy\": 0.666666667, "
                               "\"val_loss\": null, \"val_accuracy\": null, \"lr\": 0.5, "
                               "\"seconds\": "));
  free(text);
  text = test_read_file(svg, NULL);
  assert_non_null(text);
  assert_int_equal(count_of(text, "<polyline"), 2); /* loss and accuracy */
  free(text);
  /* An unwritable plot or log is an I/O error before training starts. */
  assert_int_equal(RUN(&clf, argv0, "train", "--plot", tmp_path("no/dir/p.svg")), NNRT_EXIT_IO);
  assert_non_null(strstr(err_text, "cannot write '"));
  assert_int_equal(RUN(&clf, argv0, "train", "--log-json", tmp_path("no/dir/l.json")),
                   NNRT_EXIT_IO);
  assert_string_equal(out_text, "");
}

/* ---- The reporter on its own ---- */

static double fake_clock;
static double fake_now(void) { return fake_clock; }

static NnrtEpochReport epoch_report(int64_t e, int64_t n, int val) {
  return (NnrtEpochReport){.epoch = e, .epochs = n, .loss = 1.0 / (double)e,
                           .accuracy = 0.5 + 0.1 * (double)e, .has_val = val,
                           .val_loss = val ? 1.5 / (double)e : NAN,
                           .val_accuracy = val ? 0.4 + 0.1 * (double)e : NAN, .lr = 0.01,
                           .seconds = 1.234, .logged = 1};
}

static void test_epoch_line_format(void **state) {
  (void)state;
  FILE *f = tmpfile();
  NnrtEpochReport r = epoch_report(3, 12, 1);
  nnrt_print_epoch_line(f, &r, 1);
  r.has_val = 0;
  nnrt_print_epoch_line(f, &r, 1);
  r.has_val = 1;
  nnrt_print_epoch_line(f, &r, 0);
  assert_string_equal(read_stream(f),
                      "epoch  3/12  loss 0.333333  accuracy 0.8000  val_loss 0.500000  "
                      "val_accuracy 0.7000  1.23s\n"
                      "epoch  3/12  loss 0.333333  accuracy 0.8000  1.23s\n"
                      "epoch  3/12  loss 0.333333  val_loss 0.500000  1.23s\n");
  fclose(f);
}

static void test_progress_bar_on_a_terminal(void **state) {
  (void)state;
  FILE *f = tmpfile();
  NnrtProgress p;
  nnrt_progress_init(&p, &clf, f, 1);
  p.now = fake_now;
  fake_clock = 10.0;
  NnrtStepReport s = {.epoch = 1, .epochs = 2, .step = 1, .steps = 4, .rows = 100,
                      .loss = 0.75, .seconds = 0.5};
  nnrt_progress_on_step(&s, &p); /* drawn */
  fake_clock = 10.05;
  s.step = 2;
  nnrt_progress_on_step(&s, &p); /* too soon */
  fake_clock = 10.2;
  s.step = 3;
  s.rows = 300;
  s.seconds = 1.5;
  nnrt_progress_on_step(&s, &p); /* drawn */
  NnrtEpochReport e = epoch_report(1, 2, 0);
  nnrt_progress_on_epoch(&e, &p);
  e = epoch_report(2, 2, 0);
  e.logged = 0;
  nnrt_progress_on_epoch(&e, &p);
  nnrt_progress_end(&p);
  assert_int_equal(nnrt_progress_close(&p, NULL, err, sizeof err), 0);
  const char *text = read_stream(f);
  assert_string_equal(text,
                      "\r\033[Kepoch 1/2 [=====>              ]  25%  200 samples/s  ETA 0:02"
                      "  loss 0.750000"
                      "\r\033[Kepoch 1/2 [===============>    ]  75%  200 samples/s  ETA 0:01"
                      "  loss 0.750000"
                      "\r\033[Kepoch 1/2  loss 1.000000  accuracy 0.6000  1.23s\n");
  fclose(f);
  /* Off a terminal the same calls print only the epoch line. */
  f = tmpfile();
  nnrt_progress_init(&p, &clf, f, 0);
  nnrt_progress_on_step(&s, &p);
  e = epoch_report(1, 2, 0);
  nnrt_progress_on_epoch(&e, &p);
  nnrt_progress_end(&p);
  nnrt_progress_close(&p, NULL, err, sizeof err);
  assert_string_equal(read_stream(f), "epoch 1/2  loss 1.000000  accuracy 0.6000  1.23s\n");
  fclose(f);
}

/* A long run's history stays small for the plot, keeps its first and last epoch, its order and
 * some of its validated epochs. */
static void test_history_is_thinned(void **state) {
  (void)state;
  NnrtProgress p;
  nnrt_progress_init(&p, &clf, NULL, 0);
  for (int e = 1; e <= 100001; e++) {
    NnrtEpochReport r = epoch_report(e, 100001, e % 1000 == 0);
    nnrt_progress_on_epoch(&r, &p);
  }
  int64_t n, vals = 0;
  const NnrtEpochReport *h = nnrt_progress_history(&p, &n);
  assert_true(n > 1000 && n <= 4097);
  assert_int_equal(h[0].epoch, 1);
  assert_int_equal(h[n - 1].epoch, 100001);
  for (int64_t i = 0; i < n; i++) {
    assert_true(i == 0 || h[i].epoch > h[i - 1].epoch);
    vals += h[i].has_val;
  }
  assert_true(vals >= 10);
  assert_int_equal(nnrt_progress_close(&p, NULL, err, sizeof err), 0);
}

/* Without a plot to draw (history cleared) no history is stored: the last epoch only. */
static void test_history_off_keeps_the_last_epoch(void **state) {
  (void)state;
  NnrtProgress p;
  nnrt_progress_init(&p, &clf, NULL, 0);
  p.history = 0;
  for (int e = 1; e <= 5000; e++) {
    NnrtEpochReport r = epoch_report(e, 5000, e % 1000 == 0);
    nnrt_progress_on_epoch(&r, &p);
  }
  assert_null(p.hist);
  int64_t n;
  const NnrtEpochReport *h = nnrt_progress_history(&p, &n);
  assert_int_equal(n, 1);
  assert_int_equal(h[0].epoch, 5000);
  assert_int_equal(nnrt_progress_close(&p, NULL, err, sizeof err), 0);
}

/* A tiny JSON Lines checker: each line one object of exactly the keys in order, each value a
 * number or null; returns the number of lines. */
static int check_json_lines(const char *text) {
  static const char *const keys[] = {"epoch", "loss", "accuracy", "val_loss", "val_accuracy",
                                     "lr", "seconds"};
  int lines = 0;
  const char *p = text;
  while (*p) {
    assert_int_equal(*p++, '{');
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
      if (k) {
        assert_int_equal(*p++, ',');
        assert_int_equal(*p++, ' ');
      }
      char want[32];
      snprintf(want, sizeof want, "\"%s\": ", keys[k]);
      assert_memory_equal(p, want, strlen(want));
      p += strlen(want);
      if (strncmp(p, "null", 4) == 0) {
        p += 4;
      } else {
        char *end;
        strtod(p, &end);
        assert_true(end > p);
        assert_false(isalpha((unsigned char)*p));
        p = end;
      }
    }
    assert_int_equal(*p++, '}');
    assert_int_equal(*p++, '\n');
    lines++;
  }
  return lines;
}

static void test_json_log(void **state) {
  (void)state;
  const char *path = tmp_path("epochs.json");
  NnrtProgress p;
  nnrt_progress_init(&p, &clf, NULL, 0);
  assert_int_equal(nnrt_progress_open_json(&p, path, err, sizeof err), 0);
  for (int e = 1; e <= 4; e++) {
    NnrtEpochReport r = epoch_report(e, 4, e % 2 == 0);
    r.logged = e == 4;
    nnrt_progress_on_epoch(&r, &p);
    /* Valid after every line: the file holds e whole lines. */
    char *text = test_read_file(path, NULL);
    assert_int_equal(check_json_lines(text), e);
    free(text);
  }
  assert_int_equal(nnrt_progress_close(&p, path, err, sizeof err), 0);
  char *text = test_read_file(path, NULL);
  assert_non_null(strstr(text, "{\"epoch\": 1, \"loss\": 1, \"accuracy\": 0.6, \"val_loss\": "
                               "null, \"val_accuracy\": null, \"lr\": 0.01, \"seconds\": "
                               "1.234000}\n{\"epoch\": 2, \"loss\": 0.5, \"accuracy\": 0.7, "
                               "\"val_loss\": 0.75, \"val_accuracy\": 0.6, "));
  free(text);
  assert_int_equal(nnrt_progress_open_json(&p, tmp_path("missing/dir.json"), err, sizeof err),
                   -1);
  assert_non_null(strstr(err, "dir.json': No such file or directory"));
}

/* Tags of an XML document nest properly: returns how many elements it has; counts in *poly the
 * <polyline> elements and in points[] the points of each. */
static int check_xml(const char *s, int *poly, int points[8]) {
  const char *stack[64];
  size_t len[64];
  int depth = 0, elements = 0;
  *poly = 0;
  for (const char *p = strchr(s, '<'); p; p = strchr(p, '<')) {
    if (p[1] == '?' || p[1] == '!') {
      p = strchr(p, '>');
      assert_non_null(p);
      continue;
    }
    const char *end = strchr(p, '>');
    assert_non_null(end);
    if (p[1] == '/') {
      size_t n = strcspn(p + 2, " >");
      assert_true(depth > 0);
      depth--;
      assert_int_equal(n, len[depth]);
      assert_memory_equal(p + 2, stack[depth], n);
    } else {
      size_t n = strcspn(p + 1, " />");
      elements++;
      if (n == 8 && strncmp(p + 1, "polyline", 8) == 0) {
        const char *pts = strstr(p, "points=\"");
        assert_true(pts && pts < end);
        int k = 0;
        for (const char *q = pts + 8; *q != '"'; q++)
          k += *q == ',';
        if (*poly < 8)
          points[*poly] = k;
        ++*poly;
      }
      if (end[-1] != '/') {
        assert_true(depth < 64);
        stack[depth] = p + 1;
        len[depth++] = n;
      }
    }
    p = end;
  }
  assert_int_equal(depth, 0);
  return elements;
}

static void test_svg_plot(void **state) {
  (void)state;
  NnrtEpochReport h[7];
  for (int e = 0; e < 7; e++)
    h[e] = epoch_report(e + 1, 7, 1);
  const char *path = tmp_path("plot.svg");
  assert_int_equal(nnrt_plot_svg(path, "clf <&>", h, 7, err, sizeof err), 0);
  char *text = test_read_file(path, NULL);
  assert_non_null(text);
  int poly, points[8];
  assert_true(check_xml(text, &poly, points) > 10);
  assert_int_equal(poly, 4);
  for (int i = 0; i < 4; i++)
    assert_int_equal(points[i], 7);
  assert_non_null(strstr(text, "viewBox=\"0 0 720 560\""));
  assert_non_null(strstr(text, "<title>clf &lt;&amp;&gt;</title>"));
  const char *legend[] = {">loss<", ">val_loss<", ">accuracy<", ">val_accuracy<", ">epoch<"};
  for (int i = 0; i < 5; i++)
    assert_non_null(strstr(text, legend[i]));
  free(text);
  /* A regression without validation: one panel, one curve; validation on some epochs only. */
  for (int e = 0; e < 7; e++) {
    h[e].accuracy = h[e].val_accuracy = NAN;
    h[e].has_val = e % 3 == 0;
  }
  assert_int_equal(nnrt_plot_svg(path, "reg", h, 7, err, sizeof err), 0);
  text = test_read_file(path, NULL);
  check_xml(text, &poly, points);
  assert_int_equal(poly, 2);
  assert_int_equal(points[0], 7);
  assert_int_equal(points[1], 3);
  assert_non_null(strstr(text, "viewBox=\"0 0 720 280\""));
  assert_null(strstr(text, ">accuracy<"));
  free(text);
  /* No temporary file is left beside it, and a bad directory is an error. */
  DIR *d = opendir(tmp_dir);
  assert_non_null(d);
  for (struct dirent *ent; (ent = readdir(d));)
    if (strstr(ent->d_name, ".tmp"))
      fail_msg("left behind: %s", ent->d_name);
  closedir(d);
  assert_int_equal(nnrt_plot_svg(tmp_path("none/p.svg"), "x", h, 7, err, sizeof err), -1);
  assert_non_null(strstr(err, "cannot write '"));
  /* No epoch at all still makes a valid picture. */
  assert_int_equal(nnrt_plot_svg(path, "empty", h, 0, err, sizeof err), 0);
  text = test_read_file(path, NULL);
  check_xml(text, &poly, points);
  assert_int_equal(poly, 0);
  free(text);
}

/* The accuracy axis fits the accuracies (0.93 to 0.99: no tick at 0, the curves fill the
 * panel's height); the loss axis is logarithmic when the losses span more than two decades,
 * with a tick at each power of ten, and linear otherwise. */
static void test_plot_axes(void **state) {
  (void)state;
  NnrtEpochReport h[7];
  for (int e = 0; e < 7; e++) {
    h[e] = epoch_report(e + 1, 7, 1);
    h[e].accuracy = 0.95 + 0.006 * e;
    h[e].val_accuracy = 0.93 + 0.008 * e;
  }
  const char *path = tmp_path("axes.svg");
  assert_int_equal(nnrt_plot_svg(path, "fit", h, 7, err, sizeof err), 0);
  char *text = test_read_file(path, NULL);
  assert_non_null(text);
  assert_null(strstr(text, "(log scale)")); /* losses 1 to 1/7 */
  const char *acc = strstr(text, ">accuracy</text>");
  assert_non_null(acc);
  assert_null(strstr(acc, ">0</text>"));
  assert_non_null(strstr(acc, ">1</text>"));
  /* the training accuracy (0.95 to 0.986) spans more than a quarter of the plot's height (on a
   * fixed 0-1 axis it was 4%) */
  double top = 1e9, bottom = -1e9, x, y;
  const char *pts = strstr(acc, "class=\"accuracy\"");
  assert_non_null(pts);
  pts = strstr(pts, "points=\"") + 8;
  for (int k; sscanf(pts, "%lf,%lf%n", &x, &y, &k) == 2; pts += k) {
    top = y < top ? y : top;
    bottom = y > bottom ? y : bottom;
  }
  if (!(bottom - top > (280 - 36 - 48) / 4))
    fail_msg("accuracy spans %g to %g", top, bottom);
  free(text);
  for (int e = 0; e < 7; e++)
    h[e].loss = pow(10.0, 2 - e), h[e].val_loss = 2 * h[e].loss;
  assert_int_equal(nnrt_plot_svg(path, "log", h, 7, err, sizeof err), 0);
  text = test_read_file(path, NULL);
  assert_non_null(strstr(text, ">loss (log scale)</text>"));
  /* 1e-4 to 1e3: seven decades, a tick every second one */
  const char *ticks[] = {">0.0001</text>", ">0.01</text>", ">1</text>", ">100</text>"};
  for (int i = 0; i < 4; i++)
    if (!strstr(text, ticks[i]))
      fail_msg("no tick label %s", ticks[i]);
  free(text);
}

/* ---- Hosts: nnc run (nnrt_cli_main) and the REPL's :train (nnrt_cli_train) ---- */

/* The one binder of predict's values, which the REPL's :predict calls too. */
static void test_input_row_binder(void **state) {
  (void)state;
  float x[3];
  char *good[] = {"1", "-2.5", "3e2"}, *bad[] = {"1", "x", "3"}, *inf[] = {"1", "2", "inf"};
  assert_int_equal(nnrt_parse_input_row(&clf, 3, good, x, err, sizeof err), 0);
  assert_true(x[0] == 1.0f && x[1] == -2.5f && x[2] == 300.0f);
  assert_int_equal(nnrt_parse_input_row(&clf, 2, good, x, err, sizeof err), -1);
  assert_string_equal(err, "predict expects 3 input values, got 2");
  assert_int_equal(nnrt_parse_input_row(&clf, 3, bad, x, err, sizeof err), -1);
  assert_string_equal(err, "input value 2 ('x') is not a finite number");
  assert_int_equal(nnrt_parse_input_row(&clf, 3, inf, x, err, sizeof err), -1);
  assert_string_equal(err, "input value 3 ('inf') is not a finite number");
}

/* nnrt_cli_main: the program's command line under the names a host gives it. */
static int run_named(const NnrtCliNames *names, int argc, const char **argv) {
  FILE *out = tmpfile(), *errf = tmpfile();
  int rc = nnrt_cli_main(&clf, names, argc, (char **)argv, stdin, out, errf);
  out_text = read_stream(out);
  err_text = read_stream(errf);
  fclose(out);
  fclose(errf);
  return rc;
}

static void test_host_names(void **state) {
  (void)state;
  const char *weights = tmp_path("named.safetensors");
  NnrtCliNames names = {.prog = "clf", .command = "nnc run clf.nn", .weights = weights};
  const char *bad[] = {"ignored", "train", "--epochs", "0"};
  assert_int_equal(run_named(&names, 4, bad), NNRT_EXIT_USAGE);
  assert_string_equal(err_text, "clf: --epochs expects a positive integer, got '0'\n"
                                "Try 'nnc run clf.nn --help' for usage.\n");
  const char *predict[] = {"ignored", "predict", "1", "2", "3"};
  assert_int_equal(run_named(&names, 5, predict), NNRT_EXIT_IO);
  char want[4400];
  snprintf(want, sizeof want, "clf: no trained weights at '%s'; run 'nnc run clf.nn train' first\n",
           weights);
  assert_string_equal(err_text, want);
  const char *train[] = {"ignored"};
  assert_int_equal(run_named(&names, 1, train), NNRT_EXIT_OK);
  snprintf(want, sizeof want, "saved weights to %s\n", weights);
  assert_non_null(strstr(out_text, want));
  assert_int_equal(run_named(&names, 5, predict), NNRT_EXIT_OK);
  assert_string_equal(out_text, "1 2 3  class 2\n");
  const char *help[] = {"ignored", "--help"};
  assert_int_equal(run_named(&names, 2, help), NNRT_EXIT_OK);
  assert_non_null(strstr(out_text, "Usage: nnc run clf.nn [train]"));
  snprintf(want, sizeof want, "(default %s)", weights);
  assert_non_null(strstr(out_text, want));
}

static int no_interrupt(void) { return 0; }
static int interrupt(void) { return 1; }

static int run_host_train(NnrtTrainState *st, int argc, const char **argv) {
  NnrtCliNames names = {.prog = "<repl>:3: error"};
  FILE *out = tmpfile(), *errf = tmpfile();
  int rc = nnrt_cli_train(&clf, &names, st, argc, (char **)argv, out, errf);
  out_text = read_stream(out);
  err_text = read_stream(errf);
  fclose(out);
  fclose(errf);
  return rc;
}

/* A host's train: it continues from the host's weights (--seed starts again from the
 * initialisers), loads the data once and keeps it, saves only with --save, and says what the
 * program says without the program's "Try" hint. */
static void test_host_train_state(void **state) {
  (void)state;
  float *ws = nnrt_workspace_new(&clf);
  assert_non_null(ws);
  NnrtTrainData *td = NULL;
  NnrtTrainState st = {.ws = ws, .td = &td, .interrupted = no_interrupt};
  ws[CW] = 7.0f; /* clf's step leaves w alone: it shows where training started */
  const char *plain[] = {"--epochs", "1"};
  assert_int_equal(run_host_train(&st, 2, plain), NNRT_EXIT_OK);
  assert_true(ws[CW] == 7.0f);
  assert_non_null(td);
  assert_non_null(strstr(out_text, "final loss 0.500000\n"));
  assert_null(strstr(out_text, "saved weights"));
  const NnrtTrainData *kept = td;
  const char *seeded[] = {"--seed=9", "--save", tmp_path("host.safetensors")};
  assert_int_equal(run_host_train(&st, 3, seeded), NNRT_EXIT_OK);
  assert_true(ws[CW] == 0.0f);
  assert_ptr_equal(td, kept);
  assert_non_null(strstr(out_text, "saved weights to "));
  const char *bad[] = {"--epochs", "x"};
  assert_int_equal(run_host_train(&st, 2, bad), NNRT_EXIT_USAGE);
  assert_string_equal(err_text, "<repl>:3: error: --epochs expects a positive integer, got 'x'\n");
  const char *help[] = {"--help"};
  assert_int_equal(run_host_train(&st, 1, help), NNRT_EXIT_OK);
  assert_non_null(strstr(out_text, "  --log-every K "));
  assert_non_null(strstr(out_text, "  --save PATH "));
  assert_null(strstr(out_text, "  --weights PATH")); /* predict's, not train's */
  assert_non_null(strstr(out_text, "  --weights-only "));
  st.interrupted = interrupt;
  assert_int_equal(run_host_train(&st, 0, NULL), NNRT_EXIT_INTERRUPTED);
  assert_string_equal(err_text, "<repl>:3: error: interrupted\n");
  nnrt_train_data_free(td);
  nnrt_workspace_free(ws);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_unknown_command_and_option),
    cmocka_unit_test(test_bad_values),
    cmocka_unit_test(test_threads_and_batch_limits),
    cmocka_unit_test(test_help),
    cmocka_unit_test(test_predict_values_and_stdin),
    cmocka_unit_test(test_predict_data_csv),
    cmocka_unit_test(test_eval_confusion_matrix),
    cmocka_unit_test(test_info_table),
    cmocka_unit_test(test_train_output_is_plain_off_a_terminal),
    cmocka_unit_test(test_epoch_line_format),
    cmocka_unit_test(test_progress_bar_on_a_terminal),
    cmocka_unit_test(test_json_log),
    cmocka_unit_test(test_history_is_thinned),
    cmocka_unit_test(test_history_off_keeps_the_last_epoch),
    cmocka_unit_test(test_svg_plot),
    cmocka_unit_test(test_plot_axes),
    cmocka_unit_test(test_input_row_binder),
    cmocka_unit_test(test_host_names),
    cmocka_unit_test(test_host_train_state),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
