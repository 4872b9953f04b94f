/* sema_internal: what the files of sema share; not part of sema.h's API.
 * Contract: sema.c checks models and drives the check (sema_check); sema_train.c evaluates
 * settings' values and call arguments and checks train blocks; sema_data.c checks data sources
 * through the rows of nnrt_sources.h (tables, idx files, the probe) and sema_csv.c csv sources. Every function reports its errors through
 * s->d at the user's source and allocates in s->arena. */
#ifndef NNC_SEMA_INTERNAL_H
#define NNC_SEMA_INTERNAL_H
#include "args.h"
#include "nnrt_data.h"
#include "sema.h"

enum { MAX_CLASSES = 1000000 };
/* Operations nested in one value, counted through the definitions it uses: the later passes
 * recurse along the graph, so its depth is bounded where the names still are. */
enum { MAX_DEPTH = 10000 };

/* One sema_check: where things are allocated and reported, and the directory that relative data
 * paths are resolved against (absolute; NULL when the source's directory cannot be resolved). */
typedef struct {
  Arena *arena;
  Diag *d;
  const char *dir;
} Sema;

/* --- sema.c: constant numbers (+ - * / and unary minus of numbers), declarations --- */

bool sema_const_eval(const AstNode *e, double *out);
/* The number of values a declaration holds in one row. */
int64_t sema_decl_width(const AstNode *decl);
/* "input", "target", ... by AstKind of a declaration. */
extern const char *const sema_decl_word[];

/* --- sema_train.c: values of settings, each checked for `what` with an error at e --- */

/* Range (settings.h): the interval a numeric argument must lie in, each with its own message. */
bool sema_number(Sema *s, const AstNode *e, const char *what, double *out);
bool sema_int(Sema *s, const AstNode *e, const char *what, int64_t lo, int64_t hi,
              int64_t *out);
bool sema_bool(Sema *s, const AstNode *e, const char *what, bool *out);
bool sema_ranged(Sema *s, const AstNode *e, const char *what, Range r, double *out);

/* --- sema_train.c: arguments of the calls in settings: sgd(...), step(...), csv(...) --- */

enum { MAX_POS = 2 };

typedef struct {
  const char *fn;           /* the call's name, for messages */
  const char *const *names; /* the keyword arguments it takes, NULL-terminated */
  const AstNode *val[MAX_ARGS];
  const AstNode *pos[MAX_POS];
  int npos;
} Args;

/* The index of name in the NULL-terminated names, or -1. */
int sema_name_index(const char *const *names, const char *name);
const char *sema_name_list(Arena *a, const char *const *names, int n, const char *quote);
void sema_collect_args(Sema *s, const AstNode *call, Args *a, int max_pos, const char *pos_msg);
const AstNode *sema_arg_of(const Args *a, const char *name);
const char *sema_callee(const AstNode *v);
/* "unknown <what> '<name>'", with a suggestion among the n names or their list. */
void sema_unknown_choice(Sema *s, const AstNode *v, const char *what, const char *name,
                         const char *const *names, int n);

/* Checks a train block of m into m->train (a second one is an error). */
void sema_check_train(Sema *s, Model *m, const AstNode *block);

/* --- sema_data.c: data sources (data = / validate =) and the arguments csv shares --- */

/* A row of nnrt_sources.h as the compiler sees it: its name, kind, files, compile-time check and
 * the names of its arguments. */
typedef struct SemaSource SemaSource;
typedef void SemaSourceCheck(Sema *s, const Model *m, const AstNode *v, const SemaSource *src,
                             DataSettings *out);
struct SemaSource {
  const char *name;
  DataKind kind;
  int files;
  SemaSourceCheck *check;
  const char *const *args; /* NULL-terminated */
};

void sema_data_source(Sema *s, const Model *m, const AstNode *setting, DataSettings *out);
/* A file-name argument: a non-empty string, resolved against the source's directory. */
const char *sema_path_arg(Sema *s, const AstNode *e);
/* Probes file `file` of out (0: out->path, 1: out->labels_path, resolved; the string node
 * path_node in messages) with the runtime's reader, and reports at path_node what is wrong
 * whatever the format: it cannot be opened or read, it is not a regular file (a device or a
 * pipe could block or never end), or the loader would refuse it. Returns the probe's status;
 * the caller reports the statuses of its format. *p is the caller's to free. */
NnrtProbeStatus sema_probe(Sema *s, const AstNode *path_node, const DataSettings *out, int file,
                           NnrtProbe *p);
void sema_scaling_args(Sema *s, const Args *a, DataSettings *out);
void sema_positive_arg(Sema *s, const Model *m, const Args *a, DataSettings *out);
void sema_classes_arg(Sema *s, const Model *m, const Args *a, DataSettings *out);

/* --- sema_csv.c --- */

/* csv("file", ...): its arguments, and its columns and header read from the file's first lines. */
void sema_csv_source(Sema *s, const Model *m, const AstNode *v, const SemaSource *src,
                     DataSettings *out);

#endif
