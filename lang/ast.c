#include "ast.h"

AstNode *ast_new(Arena *a, AstKind kind, Loc loc) {
  AstNode *n = ARENA_NEW(a, AstNode);
  n->kind = kind;
  n->loc = loc;
  return n;
}

AstNode *ast_num(Arena *a, Loc loc, double value) {
  AstNode *n = ast_new(a, AST_NUM, loc);
  n->u.num.value = value;
  return n;
}

AstNode *ast_name(Arena *a, Loc loc, const char *name) {
  AstNode *n = ast_new(a, AST_NAME, loc);
  n->u.name.name = name;
  return n;
}

AstNode *ast_string(Arena *a, Loc loc, const char *value, size_t len) {
  AstNode *n = ast_new(a, AST_STRING, loc);
  n->u.str.value = value;
  n->u.str.len = len;
  return n;
}

AstNode *ast_binary(Arena *a, Loc loc, AstBinOp op, AstNode *lhs, AstNode *rhs) {
  AstNode *n = ast_new(a, AST_BINARY, loc);
  n->u.binary.op = op;
  n->u.binary.lhs = lhs;
  n->u.binary.rhs = rhs;
  return n;
}

AstNode *ast_neg(Arena *a, Loc loc, AstNode *operand) {
  AstNode *n = ast_new(a, AST_NEG, loc);
  n->u.unary.operand = operand;
  return n;
}

AstNode *ast_call(Arena *a, Loc loc, const char *name, Loc name_loc, AstNode *args) {
  AstNode *n = ast_new(a, AST_CALL, loc);
  n->u.call.name = name;
  n->u.call.name_loc = name_loc;
  n->u.call.args = args;
  return n;
}

AstNode *ast_kwarg(Arena *a, Loc loc, const char *name, AstNode *value) {
  AstNode *n = ast_new(a, AST_KWARG, loc);
  n->u.kwarg.name = name;
  n->u.kwarg.value = value;
  return n;
}

AstNode *ast_array(Arena *a, Loc loc, AstNode *elems) {
  AstNode *n = ast_new(a, AST_ARRAY, loc);
  n->u.array.elems = elems;
  n->u.array.n = ast_length(elems);
  return n;
}

AstNode *ast_table(Arena *a, Loc loc, AstNode *rows) {
  AstNode *n = ast_new(a, AST_TABLE, loc);
  n->u.table.rows = rows;
  n->u.table.n = ast_length(rows);
  return n;
}

AstNode *ast_row(Arena *a, Loc loc, AstNode *in, AstNode *out) {
  AstNode *n = ast_new(a, AST_ROW, loc);
  n->u.row.in = in;
  n->u.row.out = out;
  n->u.row.n_in = ast_length(in);
  n->u.row.n_out = ast_length(out);
  return n;
}

AstNode *ast_decl(Arena *a, AstKind kind, Loc loc, const char *name, Loc name_loc, AstNode *dims,
                  AstNode *value) {
  AstNode *n = ast_new(a, kind, loc);
  n->u.decl.name = name;
  n->u.decl.name_loc = name_loc;
  n->u.decl.dims = dims;
  n->u.decl.value = value;
  return n;
}

AstNode *ast_block(Arena *a, AstKind kind, Loc loc, const char *name, AstNode *items) {
  AstNode *n = ast_new(a, kind, loc);
  n->u.block.name = name;
  n->u.block.items = items;
  return n;
}

AstNode *ast_append(AstNode *list, AstNode *item) {
  if (!list)
    return item;
  AstNode *tail = list;
  while (tail->next)
    tail = tail->next;
  tail->next = item;
  return list;
}

int ast_length(const AstNode *list) {
  int n = 0;
  for (; list; list = list->next)
    n++;
  return n;
}

const char *ast_binop_text(AstBinOp op) {
  static const char *const text[] = {
      [BIN_ADD] = "+", [BIN_SUB] = "-",      [BIN_MUL] = "*", [BIN_DIV] = "/",
      [BIN_MATMUL] = "@", [BIN_DOT] = "\xc2\xb7", [BIN_POW] = "^",
  };
  return (unsigned)op < sizeof text / sizeof *text ? text[op] : "?";
}

/* --- ast_print: the --emit=ast format ---------------------------------------------------------
 * One node per line: indentation (2 spaces per depth), a kind word, the node's own data, then
 * " @line:col". Numbers that belong to their parent (dims, table rows) stay on the parent's line
 * so the dump reads like the source. */

static void print_nums(FILE *out, const AstNode *list) {
  for (; list; list = list->next)
    fprintf(out, " %g", list->u.num.value);
}

static void print_dims(FILE *out, const AstNode *dims) {
  if (!dims)
    return;
  fputs(" [", out);
  for (const AstNode *d = dims; d; d = d->next)
    fprintf(out, "%s%g", d == dims ? "" : ", ", d->u.num.value);
  fputc(']', out);
}

static const char *decl_word(AstKind kind) {
  switch (kind) {
  case AST_INPUT: return "input";
  case AST_TARGET: return "target";
  case AST_PARAM: return "param";
  case AST_LET: return "let";
  case AST_OUTPUT: return "output";
  default: return "setting";
  }
}

/* A string as the source would write it: quoted, with \" \\ \n \t escaped again. */
static void print_string(FILE *out, const AstNode *n) {
  fputc('"', out);
  for (size_t i = 0; i < n->u.str.len; i++) {
    char c = n->u.str.value[i];
    switch (c) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\n': fputs("\\n", out); break;
    case '\t': fputs("\\t", out); break;
    default: fputc(c, out);
    }
  }
  fputc('"', out);
}

/* Prints the node's line without its children. */
static void print_head(FILE *out, const AstNode *n) {
  switch (n->kind) {
  case AST_MODEL: fprintf(out, "model %s", n->u.block.name); break;
  case AST_TRAIN: fprintf(out, "train %s", n->u.block.name); break;
  case AST_LOSS: fputs("loss", out); break;
  case AST_INPUT:
  case AST_TARGET:
  case AST_PARAM:
  case AST_LET:
  case AST_OUTPUT:
  case AST_SETTING:
    fputs(decl_word(n->kind), out);
    if (n->u.decl.name)
      fprintf(out, " %s", n->u.decl.name);
    print_dims(out, n->u.decl.dims);
    break;
  case AST_NUM: fprintf(out, "num %g", n->u.num.value); break;
  case AST_DIM: fprintf(out, "dim %g", n->u.num.value); break;
  case AST_NAME: fprintf(out, "name %s", n->u.name.name); break;
  case AST_STRING:
    fputs("string ", out);
    print_string(out, n);
    break;
  case AST_BINARY: fprintf(out, "binary %s", ast_binop_text(n->u.binary.op)); break;
  case AST_NEG: fputs("neg", out); break;
  case AST_CALL: fprintf(out, "call %s", n->u.call.name); break;
  case AST_KWARG: fprintf(out, "kwarg %s", n->u.kwarg.name); break;
  case AST_ARRAY: fputs("array", out); break;
  case AST_TABLE: fputs("table", out); break;
  case AST_ROW:
    fputs("row", out);
    print_nums(out, n->u.row.in);
    fputs(" ->", out);
    print_nums(out, n->u.row.out);
    break;
  }
}

static void print_node(FILE *out, const AstNode *n, int depth);

static void print_list(FILE *out, const AstNode *list, int depth) {
  for (; list; list = list->next)
    print_node(out, list, depth);
}

static void print_node(FILE *out, const AstNode *n, int depth) {
  fprintf(out, "%*s", 2 * depth, "");
  print_head(out, n);
  fprintf(out, " @%u:%u\n", n->loc.line, n->loc.col);
  switch (n->kind) {
  case AST_MODEL:
  case AST_TRAIN: print_list(out, n->u.block.items, depth + 1); break;
  case AST_INPUT:
  case AST_TARGET:
  case AST_PARAM:
  case AST_LET:
  case AST_LOSS:
  case AST_OUTPUT:
  case AST_SETTING:
    if (n->u.decl.value)
      print_node(out, n->u.decl.value, depth + 1);
    break;
  case AST_BINARY:
    print_node(out, n->u.binary.lhs, depth + 1);
    print_node(out, n->u.binary.rhs, depth + 1);
    break;
  case AST_NEG: print_node(out, n->u.unary.operand, depth + 1); break;
  case AST_CALL: print_list(out, n->u.call.args, depth + 1); break;
  case AST_KWARG: print_node(out, n->u.kwarg.value, depth + 1); break;
  case AST_ARRAY: print_list(out, n->u.array.elems, depth + 1); break;
  case AST_TABLE: print_list(out, n->u.table.rows, depth + 1); break;
  case AST_NUM:
  case AST_DIM:
  case AST_NAME:
  case AST_STRING:
  case AST_ROW: break;
  }
}

void ast_print(FILE *out, const AstNode *file_items) { print_list(out, file_items, 0); }
