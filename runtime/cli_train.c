/* cli_train: the train command: data, weights to start from, the run and its reports, the save.
 * It runs on the program's own workspace and data, or on a host's (NnrtTrainState: the REPL's
 * :train continues from the weights it holds, keeps the data loaded and saves only with --save).
 * Contract: nnrt_cli_cmd_train returns an exit code of cli.c's contract and has said why when not 0. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_internal.h"
#include "comm.h"

/* ---- train ---- */

/* "x -> y" for every row of a training table (the raw x as written in the source), after the
 * training rows come the held-out validation rows, which are the table's last rows. */
int nnrt_print_table_predictions(FILE *out, const NnrtModel *m, float *ws,
                                 const NnrtTrainData *td) {
  int split = m->validate.kind == NNRT_DATA_NONE && td->val.rows > 0;
  int64_t rows = td->train.rows + (split ? td->val.rows : 0);
  if (rows > m->train.rows)
    rows = m->train.rows;
  float *y = malloc((size_t)((rows > 0 ? rows : 1) * m->output.width) * sizeof *y);
  if (!y)
    return NNRT_EXIT_DATA;
  int64_t first = td->train.rows < rows ? td->train.rows : rows;
  nnrt_predict_rows(m, ws, td->train.x, first, y);
  if (rows > first)
    nnrt_predict_rows(m, ws, td->val.x, rows - first, y + first * m->output.width);
  for (int64_t r = 0; r < rows; r++) {
    nnrt_print_row(out, m->train.x + r * m->input.width, m->input.width, "%g");
    fputs(" -> ", out);
    nnrt_print_outputs(out, m, y + r * m->output.width, "%.4f");
  }
  free(y);
  return NNRT_EXIT_OK;
}

static void print_final(const Cli *c, const NnrtTrainResult *res) {
  fprintf(c->out, "final loss %.6f\n", res->loss);
  if (!res->has_val)
    return;
  fprintf(c->out, "final val_loss %.6f", res->val_loss);
  if (c->m->metric != NNRT_METRIC_NONE)
    fprintf(c->out, "  val_accuracy %.4f", res->val_accuracy);
  fputc('\n', c->out);
}

/* Early stopping's restored weights, as the training log used to say it. */
static void print_restored(const Cli *c, const NnrtTrainOptions *o, const NnrtTrainResult *res) {
  if (o->early_stopping <= 0 || res->best_epoch == res->last_epoch || res->best_epoch < 1)
    return;
  if (res->stopped_early)
    fprintf(c->out, "early stopping at epoch %lld; ", (long long)res->last_epoch);
  fprintf(c->out, "restored the weights of epoch %lld (val_loss %.6f)\n",
          (long long)res->best_epoch, res->val_loss);
}

/* A resumed run that had already ended: what happened, and what to do to train further. */
static void print_already_ended(const Cli *c, const NnrtTrainOptions *o, const NnrtTrainResult *res,
                                const char *resume) {
  long long last = (long long)res->last_epoch;
  if (res->stopped_early)
    fprintf(c->out,
            "this run stopped early at epoch %lld (no val_loss improvement for %lld epochs "
            "after epoch %lld) and cannot continue; to train further, start a new run from its "
            "weights with --init %s\n",
            last, last - (long long)res->best_epoch, (long long)res->best_epoch, resume);
  else
    fprintf(c->out,
            "training already finished at epoch %lld of %lld; pass --epochs N (more than %lld) "
            "to train further\n",
            last, (long long)o->epochs, last);
  fprintf(c->out, "nothing trained, nothing saved ('%s' is unchanged)\n", resume);
}

/* What a training run needs besides the model and its data. */
typedef struct {
  const NnrtModel *m; /* the model with --data / --validate applied */
  Args *a;
  const char *save; /* --save or the default path; NULL: no save */
  NnrtProgress progress;
} TrainRun;

/* The weights training starts from: a host's current weights unless --seed, --init or --resume
 * start again; else the initialisers (seeded), then --init's weights (the optimizer state stays
 * zero and the input statistics come from this run's data); --resume is nnrt_train_on's
 * (resume_path), which restores the whole run over them. */
static int start_weights(const Cli *c, TrainRun *t, float *ws) {
  char msg[1024] = "";
  t->a->opt.resume_path = t->a->resume;
  if (c->state && !t->a->seeded && !t->a->init && !t->a->resume)
    return NNRT_EXIT_OK;
  nnrt_init_params(t->m, ws, t->a->opt.seed);
  if (!t->a->init)
    return NNRT_EXIT_OK;
  int rc = nnrt_load_init(t->m, ws, t->a->init, msg, sizeof msg);
  if (rc)
    nnrt_cli_say(c, "%s", msg);
  return rc;
}

/* After training (finished, failed or interrupted): the bar erased, the plot and the JSON log
 * closed. Returns the first I/O failure, or 0. */
static int finish_reports(const Cli *c, TrainRun *t) {
  char msg[1024];
  int rc = NNRT_EXIT_OK;
  nnrt_progress_end(&t->progress);
  if (t->a->plot) {
    int64_t n;
    const NnrtEpochReport *h = nnrt_progress_history(&t->progress, &n);
    if (nnrt_plot_svg(t->a->plot, t->m->name, h, n, msg, sizeof msg) != 0) {
      nnrt_cli_say(c, "%s", msg);
      rc = NNRT_EXIT_IO;
    }
  }
  if (nnrt_progress_close(&t->progress, t->a->log_json, msg, sizeof msg) != 0) {
    nnrt_cli_say(c, "%s", msg);
    rc = rc ? rc : NNRT_EXIT_IO;
  }
  return rc;
}

static int train_and_save(const Cli *c, TrainRun *t, float *ws, const NnrtTrainData *td) {
  char msg[1024] = "";
  NnrtTrainResult res;
  Args *a = t->a;
  int rc = start_weights(c, t, ws);
  if (rc)
    return rc;
  /* Periodic checkpoints, the one an interruption writes and the one at the end all go to the
   * weights file: predict reads a training checkpoint's weights, --resume all of it. */
  a->opt.checkpoint_path = t->save;
  a->opt.report = nnrt_progress_reporter(&t->progress);
  nnrt_train_on(t->m, ws, &a->opt, td, NULL, &res, msg, sizeof msg);
  int report_rc = finish_reports(c, t);
  if (res.status != NNRT_EXIT_OK) {
    if (msg[0])
      nnrt_cli_say(c, "%s", msg);
    else if (res.status == NNRT_EXIT_INTERRUPTED)
      nnrt_cli_say(c, "interrupted");
    return res.status;
  }
  if (res.epochs_trained == 0)
    print_already_ended(c, &a->opt, &res, a->resume);
  else
    print_restored(c, &a->opt, &res);
  print_final(c, &res);
  if (t->m->train.kind == NNRT_DATA_TABLE) {
    rc = nnrt_print_table_predictions(c->out, t->m, ws, td);
    if (rc != NNRT_EXIT_OK)
      nnrt_cli_say(c, "out of memory for the predictions");
    if (rc)
      return rc;
  }
  if (!t->save || res.epochs_trained == 0)
    return report_rc;
  /* --weights-only replaces the run's final checkpoint with the weights alone. */
  if ((!res.saved || a->weights_only) &&
      nnrt_save_stats(t->m, ws, nnrt_train_data_stats(td), t->save, msg, sizeof msg) != 0) {
    nnrt_cli_say(c, "%s", msg);
    return NNRT_EXIT_IO;
  }
  fprintf(c->out, "saved weights to %s\n", t->save);
  return report_rc;
}

/* A file we will write at the end must have a directory we can write to: fail before training. */
static int check_writable(const Cli *c, const char *path) {
  const char *slash = strrchr(path, '/');
  char dir[4096];
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path == 0 ? 1 : slash - path), path);
  if (access(dir, W_OK) != 0) {
    nnrt_cli_say(c, "cannot write '%s': %s", path, strerror(errno));
    return NNRT_EXIT_IO;
  }
  return NNRT_EXIT_OK;
}

/* The host's record of the input statistics a run trains with (predict scales by them). */
static void give_stats(const Cli *c, const NnrtTrainData *td) {
  const NnrtInputStats *st = nnrt_train_data_stats(td);
  NnrtInputStats *to = c->state->stats;
  if (!to || st->width == 0)
    return;
  memcpy(to->mean, st->mean, (size_t)st->width * sizeof(float));
  memcpy(to->std, st->std, (size_t)st->width * sizeof(float));
  to->width = st->width;
}

/* The run's data: a host's, loaded by its first run and kept (unless --data or --validate
 * replace it), else loaded into *own for this run. */
static int run_data(const Cli *c, const TrainRun *t, NnrtTrainData **own,
                    const NnrtTrainData **td) {
  char msg[1024];
  int kept = c->state && !t->a->data.n && !t->a->validate.n;
  NnrtTrainData **slot = kept ? c->state->td : own;
  if (!*slot) {
    int rc = nnrt_train_data_load(t->m, slot, msg, sizeof msg);
    if (rc) {
      *slot = NULL;
      nnrt_cli_say(c, "%s", msg);
      return rc;
    }
  }
  *td = *slot;
  if (nnrt_train_data_warning(*td))
    nnrt_cli_say(c, "warning: %s", nnrt_train_data_warning(*td));
  if (!c->state)
    return NNRT_EXIT_OK;
  if (c->state->interrupted && c->state->interrupted()) {
    nnrt_cli_say(c, "interrupted");
    return NNRT_EXIT_INTERRUPTED;
  }
  give_stats(c, *td);
  return NNRT_EXIT_OK;
}

static int load_data_and_train(const Cli *c, TrainRun *t) {
  char msg[1024];
  NnrtTrainData *own = NULL;
  const NnrtTrainData *td = NULL;
  nnrt_progress_init(&t->progress, t->m, c->out, isatty(fileno(c->out)));
  t->progress.history = t->a->plot != NULL; /* only the plot reads it */
  if (t->a->plot && check_writable(c, t->a->plot) != 0)
    return NNRT_EXIT_IO;
  if (t->a->log_json &&
      (t->a->resume ? nnrt_progress_continue_json : nnrt_progress_open_json)(
          &t->progress, t->a->log_json, msg, sizeof msg)) {
    nnrt_cli_say(c, "%s", msg);
    return NNRT_EXIT_IO;
  }
  if (t->a->resume && t->a->plot && !t->a->log_json)
    nnrt_cli_say(c, "note: the plot shows this run's epochs only; pass the run's --log-json "
                    "to plot its whole history");
  int rc = run_data(c, t, &own, &td);
  float *ws = c->state ? c->state->ws : NULL;
  if (rc) {
    /* said */
  } else if (!ws && !(ws = nnrt_workspace_new(t->m))) {
    nnrt_cli_say(c, "out of memory for the workspace");
    rc = NNRT_EXIT_DATA;
  } else {
    rc = train_and_save(c, t, ws, td);
  }
  if (t->progress.json || t->progress.hist) /* not closed by a run that never started */
    nnrt_progress_close(&t->progress, NULL, NULL, 0);
  if (!c->state)
    nnrt_workspace_free(ws);
  nnrt_train_data_free(own);
  return rc;
}

/* More threads than CPUs only wait for each other (the result is the same for any count). */
static int64_t usable_threads(const Cli *c, int64_t threads) {
  int cpus = nnrt_usable_cpus();
  if (threads <= cpus)
    return threads;
  nnrt_cli_say(c, "note: --threads %lld is more than the %d CPUs this process can use; "
               "training on %d", (long long)threads, cpus, cpus);
  return cpus;
}

static int has_running_statistics(const NnrtModel *m) {
  for (int32_t i = 0; i < m->n_params; i++)
    if (m->params[i].role == NNRT_ROLE_BUFFER)
      return 1;
  return 0;
}

/* A rank of a data-parallel job other than rank 0 trains as rank 0 does but writes nothing: no
 * output, no log, no plot, no weights (rank 0's are the same bytes). */
static Cli quiet_rank(const Cli *c, Args *a, TrainRun *t, FILE *null) {
  Cli q = *c;
  q.out = q.err = null;
  a->log_json = a->plot = NULL;
  t->save = NULL;
  return q;
}

/* The checks of train's options that need the model. */
static int check_train_args(const Cli *c, const Args *a) {
  const NnrtModel *m = c->m;
  if (a->threads > 256)
    return nnrt_cli_usage_error(c, "train", "--threads: at most 256, got %lld", (long long)a->threads);
  /* The kernels take the rows as a run-time count, but every buffer's place in the workspace
   * is a constant of the compiled code, laid out for max_batch rows: more would overlap. */
  if (a->opt.batch > m->max_batch)
    return nnrt_cli_usage_error(c, "train",
                           "model '%s' was compiled for batches of at most %lld rows (train "
                           "block batch = %lld): its workspace is laid out for that many rows "
                           "when it is compiled; to train with %lld, set batch = %lld in the "
                           "train block%s%s and compile again (a smaller --batch needs no "
                           "recompiling)",
                           m->name, (long long)m->max_batch, (long long)m->max_batch,
                           (long long)a->opt.batch, (long long)a->opt.batch,
                           m->source ? " of " : "", m->source ? m->source : "");
  if (a->resume && a->init)
    return nnrt_cli_usage_error(c, "train",
                           "--resume and --init cannot be used together: --resume continues a run, "
                           "--init starts a new one from given weights");
  return NNRT_EXIT_OK;
}

int nnrt_cli_cmd_train(const Cli *c, int argc, char **argv) {
  if (!c->m->has_train) {
    nnrt_cli_say(c, "model '%s' has no train block", c->m->name);
    return NNRT_EXIT_USAGE;
  }
  Args a = {.opt = nnrt_train_options(c->m), .threads = 1};
  int rc = nnrt_cli_parse_args(c, CMD_TRAIN, argc, argv, &a);
  if (rc || a.help) {
    if (a.help && c->state)
      nnrt_cli_print_options(c, CMD_TRAIN);
    else if (a.help)
      nnrt_cli_print_command_help(c, CMD_TRAIN);
    return rc;
  }
  if ((rc = check_train_args(c, &a)) != 0)
    return rc;
  a.opt.threads = (int32_t)usable_threads(c, a.threads);
  NnrtModel m = *c->m;
  if (a.data.n)
    m.train = nnrt_cli_data_with_paths(c->m, &a.data);
  if (a.validate.n)
    m.validate = nnrt_cli_data_with_paths(c->m, &a.validate);
  char msg[512];
  if (nnrt_check_train_options(&m, &a.opt, msg, sizeof msg) != 0) {
    nnrt_cli_say(c, "%s", msg);
    return NNRT_EXIT_USAGE;
  }
  if (!c->state && (rc = nnrt_cli_workspace_fits(c)) != 0) /* a host's workspace exists */
    return rc;
  TrainRun t = {.m = &m, .a = &a, .save = a.save ? a.save : c->weights};
  NnrtJob job = {.rank = 0, .size = 1};
  if (!c->state && nnrt_job_start(&job, msg, sizeof msg) != 0) {
    nnrt_cli_say(c, "%s", msg);
    return NNRT_EXIT_USAGE;
  }
  a.opt.job = &job;
  FILE *null = NULL;
  Cli rank = *c;
  if (job.rank > 0 && (null = fopen("/dev/null", "w")))
    rank = quiet_rank(c, &a, &t, null);
  if (job.size > 1 && a.opt.threads > 1)
    nnrt_cli_say(&rank, "note: under MPI each rank trains on one thread (start one rank a core)");
  if (job.size > 1 && has_running_statistics(&m))
    nnrt_cli_say(&rank, "note: batch_norm normalises each rank's share of a batch by its own "
                 "statistics; the running statistics are rank 0's (docs/mpi.md)");
  NnrtSaveLock lock;
  if (t.save && nnrt_save_lock(&lock, t.save, msg, sizeof msg) != 0) {
    nnrt_cli_say(&rank, "%s", msg);
    rc = NNRT_EXIT_IO;
  } else {
    rc = load_data_and_train(&rank, &t);
    if (t.save)
      nnrt_save_unlock(&lock);
  }
  /* A failure only this rank may have seen (a file, memory) must not leave the others waiting
   * for it: the job is aborted. Training's own outcomes are the same on every rank. */
  nnrt_job_end(&job, rc, rc == NNRT_EXIT_OK || rc == NNRT_EXIT_INTERRUPTED ||
                             rc == NNRT_EXIT_NONFINITE);
  if (null)
    fclose(null);
  return rc;
}
