/* ast: the syntax tree of a .nn file, as the parser builds it.
 * Contract: every node is allocated in the compilation's arena and carries the Loc of the
 * source text it came from. Lists are linked through `next`. Names are arena strings.
 * The tree is what was written; sema gives it meaning (which calls are layers, which are
 * activations, whether a name exists). */
#ifndef NNC_AST_H
#define NNC_AST_H
#include <stdio.h>

#include "arena.h"
#include "diag.h"

typedef enum {
  AST_MODEL,   /* model NAME { items }            u.block: name, items */
  AST_TRAIN,   /* train NAME { settings }         u.block: name, items (AST_SETTING list) */
  AST_INPUT,   /* input NAME[dims]                u.decl: name, dims (may be NULL: scalar) */
  AST_TARGET,  /* target NAME[dims] (: kind)?      u.decl: name, dims, value (the kind after
                  ':', e.g. the call class(10), or NULL: real-valued) */
  AST_PARAM,   /* param NAME[dims] (= init)?      u.decl: name, dims, value (init expr or NULL) */
  AST_LET,     /* NAME = expr                     u.decl: name, value */
  AST_LOSS,    /* loss = expr                     u.decl: name "loss", value */
  AST_OUTPUT,  /* output (NAME =)? expr           u.decl: name (NULL if unnamed), value */
  AST_SETTING, /* NAME = expr   (in train blocks) u.decl: name, value */
  AST_NUM,     /* 1, 0.5, 1e-3                    u.num */
  AST_NAME,    /* W1, true, zeros                 u.name */
  AST_STRING,  /* "data.csv" (escapes decoded)    u.str: value (NUL-terminated), len */
  AST_BINARY,  /* a + b                           u.binary: op, lhs, rhs */
  AST_NEG,     /* -a                              u.unary.operand */
  AST_CALL,    /* f(args)                         u.call: name, args (list; kwargs are AST_KWARG);
                  also Wᵀ, the call "transpose" with name_loc at the ᵀ */
  AST_KWARG,   /* name = value, inside a call     u.kwarg */
  AST_ARRAY,   /* [a, b, c] or [[..],[..]]        u.array: elems (list), n */
  AST_TABLE,   /* table { rows }                  u.table: rows (AST_ROW list), n */
  AST_ROW,     /* 0 1 -> 1                        u.row: in (AST_NUM list), out (AST_NUM list) */
  AST_DIM,     /* one dimension in NAME[2, 3]     u.num.value (an integer) */
} AstKind;

/* Binary operators, named by the character(s) the user wrote. */
typedef enum {
  BIN_ADD,    /* +  */
  BIN_SUB,    /* -  */
  BIN_MUL,    /* *  (elementwise) */
  BIN_DIV,    /* /  */
  BIN_MATMUL, /* @  */
  BIN_DOT,    /* ·  (U+00B7, dot product over the last axis) */
  BIN_POW,    /* ^  */
} AstBinOp;

typedef struct AstNode AstNode;
struct AstNode {
  AstKind kind;
  Loc loc;
  AstNode *next;
  union {
    struct { const char *name; AstNode *items; } block;
    struct { const char *name; Loc name_loc; AstNode *dims; AstNode *value; } decl;
    struct { double value; } num;
    struct { const char *name; } name;
    struct { const char *value; size_t len; } str;
    struct { AstBinOp op; AstNode *lhs, *rhs; } binary;
    struct { AstNode *operand; } unary;
    struct { const char *name; Loc name_loc; AstNode *args; } call;
    struct { const char *name; AstNode *value; } kwarg;
    struct { AstNode *elems; int n; } array;
    struct { AstNode *rows; int n; } table;
    struct { AstNode *in, *out; int n_in, n_out; } row;
  } u;
};

/* The most parameters a built-in call takes (a layer, a loss, an optimizer, a data source): the
 * bound of the argument binders of the checks and of lowering. */
enum { MAX_ARGS = 12 };

AstNode *ast_new(Arena *a, AstKind kind, Loc loc);
AstNode *ast_num(Arena *a, Loc loc, double value);
AstNode *ast_name(Arena *a, Loc loc, const char *name);
AstNode *ast_string(Arena *a, Loc loc, const char *value, size_t len);
AstNode *ast_binary(Arena *a, Loc loc, AstBinOp op, AstNode *lhs, AstNode *rhs);
AstNode *ast_neg(Arena *a, Loc loc, AstNode *operand);
AstNode *ast_call(Arena *a, Loc loc, const char *name, Loc name_loc, AstNode *args);
AstNode *ast_kwarg(Arena *a, Loc loc, const char *name, AstNode *value);
AstNode *ast_array(Arena *a, Loc loc, AstNode *elems);
AstNode *ast_table(Arena *a, Loc loc, AstNode *rows);
AstNode *ast_row(Arena *a, Loc loc, AstNode *in, AstNode *out);
AstNode *ast_decl(Arena *a, AstKind kind, Loc loc, const char *name, Loc name_loc, AstNode *dims,
                  AstNode *value);
AstNode *ast_block(Arena *a, AstKind kind, Loc loc, const char *name, AstNode *items);
/* Appends item to the list whose head is *list; returns the head. */
AstNode *ast_append(AstNode *list, AstNode *item);
int ast_length(const AstNode *list);
const char *ast_binop_text(AstBinOp op);
/* Prints the tree, one node per line, indented, with line:col: the `--emit=ast` format. */
void ast_print(FILE *out, const AstNode *file_items);

#endif
