/* checkpoint_run: nnrt_load_run, resuming a training run from a checkpoint that nnrt_save_run
 * wrote: the run metadata and the tensors of the whole training state (see checkpoint.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint_internal.h"
#include "json.h"

/* ---- Resuming ---- */

static int meta_int(Loader *l, const char *key, int required, int64_t def, int64_t *out) {
  const char *s = checkpoint_meta_get(l, key);
  if (!s) {
    *out = def;
    return required ? checkpoint_load_fail(l, "its metadata lacks '%s'", key) : 0;
  }
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || errno || v < 0)
    return checkpoint_load_fail(l, "its metadata '%s' is '%s', not a count", key, s);
  *out = v;
  return 0;
}

static int meta_double(Loader *l, const char *key, double def, double *out) {
  const char *s = checkpoint_meta_get(l, key);
  if (!s) {
    *out = def;
    return 0;
  }
  char *end;
  double v = strtod(s, &end);
  if (!*s || *end)
    return checkpoint_load_fail(l, "its metadata '%s' is '%s', not a number", key, s);
  *out = v;
  return 0;
}

static int meta_rng(Loader *l, const char *key, NnrtRng *r) {
  const char *s = checkpoint_meta_get(l, key);
  if (!s || strlen(s) != 64 || strspn(s, "0123456789abcdefABCDEF") != 64)
    return checkpoint_load_fail(l, "its metadata '%s' is %s", key,
                                s ? "not 64 hex digits" : "missing");
  for (int i = 0; i < 4; i++) {
    char part[17];
    memcpy(part, s + 16 * i, 16);
    part[16] = '\0';
    r->s[i] = strtoull(part, NULL, 16);
  }
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
    return checkpoint_load_fail(l, "its metadata '%s' is the all-zero state", key);
  return 0;
}

static int read_run_metadata(Loader *l, NnrtRunState *rs) {
  if (!checkpoint_meta_get(l, "step"))
    return checkpoint_load_fail(l, "it holds weights, not a training state (its metadata has no "
                                   "'step')");
  int64_t batch, stopped;
  int rc = meta_int(l, "epoch", 1, 0, &rs->epoch) || meta_int(l, "step", 1, 0, &rs->step) ||
           meta_int(l, "position", 1, 0, &rs->position) ||
           meta_int(l, "batch", 1, 0, &batch) || meta_rng(l, "rng_shuffle", &rs->shuffle) ||
           meta_rng(l, "rng_dropout", &rs->dropout) ||
           meta_double(l, "epoch_loss", 0.0, &rs->epoch_loss) ||
           meta_int(l, "epoch_correct", 0, 0, &rs->epoch_correct) ||
           meta_double(l, "loss", NAN, &rs->loss) ||
           meta_double(l, "accuracy", NAN, &rs->accuracy) ||
           meta_int(l, "best_epoch", 0, 0, &rs->best_epoch) ||
           meta_double(l, "best_val_loss", INFINITY, &rs->best_val_loss) ||
           meta_double(l, "best_val_accuracy", NAN, &rs->best_val_accuracy) ||
           meta_int(l, "bad_epochs", 0, 0, &rs->bad_epochs) ||
           meta_int(l, "stopped", 0, 0, &stopped);
  if (rc)
    return -1;
  rs->stopped = stopped != 0;
  if (batch != rs->batch)
    return checkpoint_load_fail(l, "it was saved by a run with batch %lld, this run has batch %lld",
                                (long long)batch, (long long)rs->batch);
  if (rs->position >= rs->rows || rs->position % (batch > 0 ? batch : 1) != 0)
    return checkpoint_load_fail(l,
                                "its position %lld does not fall on a batch of the %lld training "
                                "rows",
                                (long long)rs->position, (long long)rs->rows);
  int64_t begun = rs->epoch + (rs->position > 0);
  if (begun > rs->epochs)
    return checkpoint_load_fail(l,
                                "it has trained %lld epoch%s already, more than the %lld this run "
                                "asks for",
                                (long long)begun, begun == 1 ? "" : "s", (long long)rs->epochs);
  return 0;
}

/* The order must be a permutation of the rows; the statistics the ones of this run's data. */
static int check_run_tensors(Loader *l, const unsigned char *scratch, const NnrtRunState *rs) {
  int64_t at = 0;
  for (int32_t i = 0; i < l->want.n; i++) {
    const Tensor *p = &l->want.t[i];
    if (!p->present)
      continue;
    const unsigned char *v = scratch + at;
    at += nnrt_checkpoint_tensor_bytes(p);
    if (p->compare && memcmp(v, p->data, (size_t)nnrt_checkpoint_tensor_bytes(p)) != 0)
      return checkpoint_load_fail(l,
                                  "its input statistics ('%s') differ from this run's training "
                                  "data",
                                  p->name);
    if (p->dtype != TT_I64)
      continue;
    unsigned char *seen = calloc((size_t)(rs->rows > 0 ? rs->rows : 1), 1);
    if (!seen)
      return checkpoint_load_nomem(l, "out of memory");
    int ok = 1;
    for (int64_t k = 0; k < p->size && ok; k++) {
      int64_t row;
      memcpy(&row, v + 8 * k, sizeof row);
      ok = row >= 0 && row < rs->rows && !seen[row];
      if (ok)
        seen[row] = 1;
    }
    free(seen);
    if (!ok)
      return checkpoint_load_fail(l, "its '%s' is not an order of the %lld training rows", ORDER,
                                  (long long)rs->rows);
  }
  int last = 0, lasts = 0;
  for (int32_t i = 0; i < l->want.n; i++)
    if (strncmp(l->want.t[i].name, LAST, sizeof LAST - 1) == 0) {
      lasts++;
      last += l->want.t[i].present;
    }
  if (last > 0 && last < lasts)
    return checkpoint_load_fail(l, "it holds some '%s' tensors but not all", LAST);
  if (rs->best && rs->best_epoch > 0)
    for (int32_t i = 0; i < l->want.n; i++)
      if (strncmp(l->want.t[i].name, BEST, sizeof BEST - 1) == 0 && !l->want.t[i].present)
        return checkpoint_load_fail(l,
                                    "its metadata names best epoch %lld but tensor '%s' is "
                                    "missing",
                                    (long long)rs->best_epoch, l->want.t[i].name);
  return 0;
}

int nnrt_load_run(const NnrtModel *m, float *ws, const NnrtInputStats *st, NnrtRunState *rs,
                  const char *path, char *err, size_t errlen) {
  Loader l = {.m = m, .mode = LOAD_RUN, .path = path, .verb = "resume from", .err = err,
              .errlen = errlen};
  NnrtRunState got = *rs;
  int listed = nnrt_checkpoint_add_params(&l.want, m, ws, NULL, NULL) == 0;
  for (int32_t i = 0; listed && i < m->n_params; i++)
    if (m->params[i].role == NNRT_ROLE_STATE)
      listed = nnrt_checkpoint_add_param(&l.want, NULL, &m->params[i], ws + m->params[i].offset) != NULL;
  int32_t first_stat = l.want.n;
  listed = listed && nnrt_checkpoint_add_stats(&l.want, (NnrtInputStats *)st) == 0;
  for (int32_t i = first_stat; listed && i < l.want.n; i++)
    l.want.t[i].compare = 1;
  int64_t dim[1] = {rs->rows};
  listed = listed &&
           nnrt_checkpoint_add_tensor(&l.want, NULL, ORDER, TT_I64, 1, dim, rs->rows, rs->order);
  int32_t first_extra = l.want.n;
  /* __last after the parameters: when present, it overwrites them. */
  listed = listed && (!rs->best || nnrt_checkpoint_add_params(&l.want, m, ws, BEST, rs->best) == 0) &&
           nnrt_checkpoint_add_params(&l.want, m, ws, LAST, NULL) == 0;
  for (int32_t i = first_extra; listed && i < l.want.n; i++)
    l.want.t[i].optional = 1;
  int rc = listed ? nnrt_checkpoint_loader_parse(&l) : checkpoint_load_nomem(&l, "out of memory");
  if (rc == 0)
    rc = read_run_metadata(&l, &got);
  if (rc == 0)
    rc = nnrt_checkpoint_match_entries(&l);
  unsigned char *scratch = rc == 0 ? nnrt_checkpoint_read_all(&l) : NULL;
  if (rc == 0 && !scratch)
    rc = -1;
  if (rc == 0)
    rc = check_run_tensors(&l, scratch, &got);
  if (rc == 0) {
    nnrt_checkpoint_commit(&l, scratch);
    *rs = got;
  }
  free(scratch);
  nnrt_checkpoint_loader_free(&l);
  return checkpoint_load_status(&l, rc);
}