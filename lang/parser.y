/* The .nn grammar. Actions build the AST (one ast_* call each, everything in the arena);
 * syntax errors are reported in words a user thinks in (yyreport_syntax_error) and recovered
 * from at statement boundaries (newline, ';', '}') and table rows, so one run reports many. */
%define api.pure full
%define api.token.prefix {TOK_}
%define api.location.type {Loc}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%param {ParseState *ps}

%code requires {
#include <stdbool.h>

#include "ast.h"

/* Deepest nesting of '(' and '[' (and of '{'), and most operators in one statement: beyond
 * them input gets one diagnostic, and the tree stays shallow enough for recursive passes. */
enum { NEST_MAX = 256, OPS_MAX = 4096 };
/* The parser's stack, which only chains of unary '-' and of '^' (right-associative) fill:
 * bison's default, named so that the message can say it. */
#define YYMAXDEPTH 10000

/* A list under construction: the tail makes appending O(1). */
typedef struct {
  AstNode *head, *tail;
} AstList;

/* One parse: the parser's %param and the lexer's yyextra. */
typedef struct ParseState {
  Arena *arena;
  Diag *diag;
  const Source *src;
  void *scanner;             /* the flex scanner (yyscan_t) */
  AstList result;            /* top-level blocks; kept even when the parse aborts */
  bool in_train;             /* in a train block, NAME = expr is an AST_SETTING */
  bool stop;                 /* after a fatal lexical error the lexer only says end of file */
  int ops;                   /* operators in the current statement */
  Loc walked;                /* where loc_after's last walk ended */
  uint32_t off, line, col;   /* the lexer's position */
  int depth;                 /* open '(' and '[' since the innermost '{': newlines are
                                tokens only at depth 0 */
  int nbraces;               /* open '{' */
  int outer_depth[NEST_MAX]; /* the depth each open '{' interrupted */
  struct {
    const char *kind, *name; /* "model", "m"; kind NULL between blocks */
    Loc brace;               /* its '{' */
  } open_block;              /* the block being parsed, for "is not closed" */
} ParseState;
}

%code provides {
/* The flex scanner proper; yylex (in parser.y) adapts it to the parser's %param. */
#define YY_DECL int lex_scan(YYSTYPE *yylval_param, YYLTYPE *yylloc_param, void *yyscanner)
YY_DECL;
}

%code {
#include <limits.h>
#include <math.h>
#include <string.h>

#include "lex.h"
#include "parse.h"

static int yylex(YYSTYPE *val, Loc *loc, ParseState *ps);
static void yyerror(Loc *loc, ParseState *ps, const char *msg);
static void open_block(ParseState *ps, const char *kind, const char *name, Loc brace);
static void output_equals(ParseState *ps, Loc eq, const AstNode *value);
static Loc loc_rule(ParseState *ps, const Loc *rhs, int n);
static AstList list_add(AstList list, AstNode *item);
static AstNode *make_dim(ParseState *ps, Loc loc, double value);
static AstNode *make_binary(ParseState *ps, Loc loc, AstBinOp op, AstNode *lhs, AstNode *rhs);
static AstNode *make_neg(ParseState *ps, Loc loc, AstNode *operand);
static AstNode *make_transpose(ParseState *ps, Loc loc, Loc op, AstNode *operand);

/* A rule spans its first non-empty symbol to its last; an empty rule is a zero-length Loc
 * where the previous symbol ended. */
#define YYLLOC_DEFAULT(cur, rhs, n) ((cur) = loc_rule(ps, (rhs), (n)))
}

%initial-action { @$ = (Loc){0, 0, 1, 1}; }

%union {
  double num;
  const char *str;
  AstNode *node;
  AstList list;
}

/* Declaration order is the order in which expected tokens are listed in diagnostics. */
%token NEWLINE ';' '}'
%token MODEL TRAIN INPUT TARGET PARAM OUTPUT LOSS TABLE
%token <str> IDENT
%token <num> NUMBER
%token <str> STRING
%token ARROW DOT TRANSPOSE

%type <node> block stmt_line stmt last_stmt expr primary arg row_line row last_row signed_num dim
%type <list> stmts opt_dims dims args elems rows nums

%left '+' '-'
%left '*' '/' '@' DOT
%precedence NEG
%right '^'

%%

/* Errors outside any statement (a broken block header, a stray token) skip to the end of the
 * line or to a '}'. */
file
  : %empty
  | file NEWLINE
  | file block            { ps->result = list_add(ps->result, $2); }
  | file error NEWLINE
  | file error '}'
  ;

block
  : MODEL IDENT '{' { open_block(ps, "model", $2, @3); } stmts last_stmt '}'
                          { $$ = ast_block(ps->arena, AST_MODEL, @$, $2, list_add($5, $6).head);
                            ps->open_block.kind = NULL; }
  | TRAIN IDENT '{' { open_block(ps, "train", $2, @3); } stmts last_stmt '}'
                          { $$ = ast_block(ps->arena, AST_TRAIN, @$, $2, list_add($5, $6).head);
                            ps->open_block.kind = NULL; }
  ;

/* One statement grammar for both blocks: sema rejects declarations inside train blocks.
 * An error rule consumes its separator before yyerrok, so that the bad token which caused it
 * is never looked at twice; the last statement of a block needs no separator. */
stmts
  : %empty                { $$ = (AstList){0}; }
  | stmts stmt_line       { $$ = list_add($1, $2); }
  ;

stmt_line
  : sep                   { $$ = NULL; }
  | stmt sep
  | error sep             { $$ = NULL; yyerrok; }
  ;

last_stmt
  : %empty                { $$ = NULL; }
  | stmt
  | error                 { $$ = NULL; }
  ;

sep
  : NEWLINE               { ps->ops = 0; }
  | ';'                   { ps->ops = 0; }
  ;

stmt
  : INPUT IDENT opt_dims  { $$ = ast_decl(ps->arena, AST_INPUT, @$, $2, @2, $3.head, NULL); }
  | TARGET IDENT opt_dims { $$ = ast_decl(ps->arena, AST_TARGET, @$, $2, @2, $3.head, NULL); }
  | TARGET IDENT opt_dims ':' expr
                          { $$ = ast_decl(ps->arena, AST_TARGET, @$, $2, @2, $3.head, $5); }
  | PARAM IDENT opt_dims  { $$ = ast_decl(ps->arena, AST_PARAM, @$, $2, @2, $3.head, NULL); }
  | PARAM IDENT opt_dims '=' expr
                          { $$ = ast_decl(ps->arena, AST_PARAM, @$, $2, @2, $3.head, $5); }
  | OUTPUT IDENT '=' expr { $$ = ast_decl(ps->arena, AST_OUTPUT, @$, $2, @2, NULL, $4); }
  | OUTPUT expr           { $$ = ast_decl(ps->arena, AST_OUTPUT, @$, NULL, @1, NULL, $2); }
  | OUTPUT '=' expr       { output_equals(ps, @2, $3);
                            $$ = ast_decl(ps->arena, AST_OUTPUT, @$, NULL, @1, NULL, $3); }
  | LOSS '=' expr         { $$ = ast_decl(ps->arena, AST_LOSS, @$, "loss", @1, NULL, $3); }
  | IDENT '=' expr        { $$ = ast_decl(ps->arena, ps->in_train ? AST_SETTING : AST_LET, @$,
                                          $1, @1, NULL, $3); }
  ;

opt_dims
  : %empty                { $$ = (AstList){0}; }
  | '[' dims ']'          { $$ = $2; }
  ;

dims
  : dim                   { $$ = list_add((AstList){0}, $1); }
  | dims ',' dim          { $$ = list_add($1, $3); }
  ;

/* A signed number, so that [-1] gets the dimension message rather than a syntax error. */
dim
  : NUMBER                { $$ = make_dim(ps, @$, $1); }
  | '-' NUMBER            { $$ = make_dim(ps, @$, -$2); }
  ;

expr
  : expr '+' expr         { $$ = make_binary(ps, @$, BIN_ADD, $1, $3); }
  | expr '-' expr         { $$ = make_binary(ps, @$, BIN_SUB, $1, $3); }
  | expr '*' expr         { $$ = make_binary(ps, @$, BIN_MUL, $1, $3); }
  | expr '/' expr         { $$ = make_binary(ps, @$, BIN_DIV, $1, $3); }
  | expr '@' expr         { $$ = make_binary(ps, @$, BIN_MATMUL, $1, $3); }
  | expr DOT expr         { $$ = make_binary(ps, @$, BIN_DOT, $1, $3); }
  | expr '^' expr         { $$ = make_binary(ps, @$, BIN_POW, $1, $3); }
  | '-' expr %prec NEG    { $$ = make_neg(ps, @$, $2); }
  | primary
  ;

primary
  : NUMBER                { $$ = ast_num(ps->arena, @$, $1); }
  | IDENT                 { $$ = ast_name(ps->arena, @$, $1); }
  | STRING                { $$ = ast_string(ps->arena, @$, $1, strlen($1)); }
  | primary TRANSPOSE     { $$ = make_transpose(ps, @$, @2, $1); }
  | IDENT '(' ')'         { $$ = ast_call(ps->arena, @$, $1, @1, NULL); }
  | IDENT '(' args ')'    { $$ = ast_call(ps->arena, @$, $1, @1, $3.head); }
  | '(' expr ')'          { $$ = $2; }
  | '[' elems ']'         { $$ = ast_array(ps->arena, @$, $2.head); }
  | TABLE '{' rows last_row '}'
                          { $$ = ast_table(ps->arena, @$, list_add($3, $4).head); }
  ;

args
  : arg                   { $$ = list_add((AstList){0}, $1); }
  | args ',' arg          { $$ = list_add($1, $3); }
  ;

arg
  : expr
  | IDENT '=' expr        { $$ = ast_kwarg(ps->arena, @$, $1, $3); }
  ;

elems
  : expr                  { $$ = list_add((AstList){0}, $1); }
  | elems ',' expr        { $$ = list_add($1, $3); }
  ;

rows
  : %empty                { $$ = (AstList){0}; }
  | rows row_line         { $$ = list_add($1, $2); }
  ;

row_line
  : sep                   { $$ = NULL; }
  | row sep
  | error sep             { $$ = NULL; yyerrok; }
  ;

last_row
  : %empty                { $$ = NULL; }
  | row
  | error                 { $$ = NULL; }
  ;

row
  : nums ARROW nums       { $$ = ast_row(ps->arena, @$, $1.head, $3.head); }
  ;

nums
  : %empty                { $$ = (AstList){0}; }
  | nums signed_num       { $$ = list_add($1, $2); }
  ;

signed_num
  : NUMBER                { $$ = ast_num(ps->arena, @$, $1); }
  | '-' NUMBER            { $$ = ast_num(ps->arena, @$, -$2); }
  ;

%%

#include "lexer.h"

/* --- locations -------------------------------------------------------------------------- */

/* The zero-length Loc just after prev (prev may end with line breaks: a NEWLINE token). prev
 * may span a whole table so far (the empty `nums` of each row follows `rows`): the walk starts
 * from where the last one ended when that lies inside prev, so a parse walks each byte once
 * rather than once per row. */
static Loc loc_after(ParseState *ps, Loc prev) {
  uint32_t end = prev.off + prev.len;
  Loc at = ps->walked.off > prev.off && ps->walked.off <= end ? ps->walked
                                                               : (Loc){prev.off, 0, prev.line,
                                                                       prev.col};
  for (; at.off < end; at.off++) {
    if (ps->src->text[at.off] == '\n') {
      at.line++;
      at.col = 1;
    } else {
      at.col++;
    }
  }
  ps->walked = at;
  return at;
}

static Loc loc_rule(ParseState *ps, const Loc *rhs, int n) {
  if (n == 0)
    return loc_after(ps, rhs[0]);
  int first = 1;
  while (first < n && rhs[first].len == 0)
    first++;
  return loc_span(rhs[first], rhs[n]);
}

/* --- actions' helpers ------------------------------------------------------------------- */

static AstList list_add(AstList list, AstNode *item) {
  if (!item)
    return list;
  if (list.tail)
    list.tail->next = item;
  else
    list.head = item;
  list.tail = item;
  return list;
}

static AstNode *make_dim(ParseState *ps, Loc loc, double value) {
  if (value > INT_MAX && value == floor(value))
    diag_error(ps->diag, loc, "dimension %.*s is larger than the limit of %d",
               (int)(loc.len < 40 ? loc.len : 40), ps->src->text + loc.off, INT_MAX);
  else if (!(value >= 1 && value <= INT_MAX && value == (double)(long)value))
    diag_error(ps->diag, loc, "dimension must be a positive integer");
  AstNode *dim = ast_new(ps->arena, AST_DIM, loc);
  dim->u.num.value = value;
  return dim;
}

/* Past OPS_MAX the operator is dropped (the tree is wrong, but an error has been reported). */
static bool count_op(ParseState *ps, Loc loc) {
  if (++ps->ops == OPS_MAX + 1)
    diag_error(ps->diag, loc, "expression too long (more than %d operators)", OPS_MAX);
  return ps->ops <= OPS_MAX;
}

static AstNode *make_binary(ParseState *ps, Loc loc, AstBinOp op, AstNode *lhs, AstNode *rhs) {
  return count_op(ps, loc) ? ast_binary(ps->arena, loc, op, lhs, rhs) : lhs;
}

static AstNode *make_neg(ParseState *ps, Loc loc, AstNode *operand) {
  return count_op(ps, loc) ? ast_neg(ps->arena, loc, operand) : operand;
}

/* Wᵀ is the call transpose(W): one tree for both spellings. */
static AstNode *make_transpose(ParseState *ps, Loc loc, Loc op, AstNode *operand) {
  return count_op(ps, op) ? ast_call(ps->arena, loc, "transpose", op, operand) : operand;
}

/* --- diagnostics ------------------------------------------------------------------------ */

/* A token kind as diagnostics and lex_tokens name it. */
static const char *symbol_text(yysymbol_kind_t kind) {
  switch (kind) {
  case YYSYMBOL_YYEOF: return "end of file";
  case YYSYMBOL_NEWLINE: return "newline";
  case YYSYMBOL_IDENT: return "identifier";
  case YYSYMBOL_NUMBER: return "number";
  case YYSYMBOL_STRING: return "string";
  case YYSYMBOL_MODEL: return "'model'";
  case YYSYMBOL_TRAIN: return "'train'";
  case YYSYMBOL_INPUT: return "'input'";
  case YYSYMBOL_TARGET: return "'target'";
  case YYSYMBOL_PARAM: return "'param'";
  case YYSYMBOL_OUTPUT: return "'output'";
  case YYSYMBOL_LOSS: return "'loss'";
  case YYSYMBOL_TABLE: return "'table'";
  case YYSYMBOL_ARROW: return "'->'";
  case YYSYMBOL_DOT: return "'\xc2\xb7'";
  case YYSYMBOL_TRANSPOSE: return "'\xe1\xb5\x80'";
  default: return yysymbol_name(kind); /* "'('" for character tokens, "error" */
  }
}

/* The offending token as the user wrote it. */
static const char *token_text(ParseState *ps, yysymbol_kind_t kind, Loc loc) {
  if (kind == YYSYMBOL_YYEOF)
    return "end of file";
  if (kind == YYSYMBOL_NEWLINE)
    return "end of line";
  int len = loc.len > 40 ? 40 : (int)loc.len;
  return arena_printf(ps->arena, "'%.*s'%s", len, ps->src->text + loc.off,
                      loc.len > 40 ? "..." : "");
}

enum { MAX_PHRASES = 3 };

/* What the parser would have accepted, as at most MAX_PHRASES phrases. */
typedef struct {
  bool want[YYNTOKENS];
  const char *phrase[YYNTOKENS];
  int n;
  bool category; /* phrase[0] names a construct rather than a token */
} Expected;

static bool wants(const Expected *e, int ch) { return e->want[YYTRANSLATE(ch)]; }

static void drop(Expected *e, const int *chars, int n) {
  for (int i = 0; i < n; i++)
    e->want[YYTRANSLATE(chars[i])] = false;
}

static void say(Expected *e, const char *phrase) { e->phrase[e->n++] = phrase; }

/* Folds token sets into the phrases "expression", "statement", "number". */
static void fold_categories(Expected *e) {
  bool *w = e->want;
  e->category = true;
  if (w[YYSYMBOL_IDENT] && w[YYSYMBOL_NUMBER]) {
    say(e, "expression");
    drop(e, (const int[]){TOK_IDENT, TOK_NUMBER, TOK_STRING, TOK_TABLE, '(', '[', '-'}, 7);
  } else if (w[YYSYMBOL_INPUT]) {
    say(e, "statement");
    drop(e, (const int[]){TOK_INPUT, TOK_TARGET, TOK_PARAM, TOK_OUTPUT, TOK_LOSS, TOK_IDENT,
                          TOK_NEWLINE, ';', '}'}, 9);
  } else if (w[YYSYMBOL_NUMBER] && w[YYSYMBOL_ARROW]) {
    say(e, "number");
    say(e, "'->'");
    drop(e, (const int[]){TOK_NUMBER, TOK_ARROW, '-', TOK_NEWLINE, ';', '}'}, 6);
  } else if (w[YYSYMBOL_NUMBER]) {
    say(e, "number");
    drop(e, (const int[]){TOK_NUMBER, '-'}, 2);
  } else {
    e->category = false;
  }
}

/* The closing bracket the user most likely forgot, or 0. '}' only counts at end of file or
 * where a statement cannot end: elsewhere "expected newline" is the better advice. */
static int missing_closer(const Expected *e, bool at_eof) {
  if (wants(e, ')'))
    return ')';
  if (wants(e, ']'))
    return ']';
  if (wants(e, '}') && (at_eof || !e->want[YYSYMBOL_NEWLINE]))
    return '}';
  return 0;
}

static void expected_phrases(const yypcontext_t *ctx, Expected *e) {
  yysymbol_kind_t kinds[YYNTOKENS];
  int n = yypcontext_expected_tokens(ctx, kinds, YYNTOKENS);
  for (int i = 0; i < n; i++)
    e->want[kinds[i]] = true;
  /* At end of file the open bracket is the news; elsewhere what could have come next is. */
  bool at_eof = yypcontext_token(ctx) == YYSYMBOL_YYEOF;
  if (!at_eof)
    fold_categories(e);
  int closer = e->n == 0 ? missing_closer(e, at_eof) : 0;
  if (closer) {
    say(e, closer == ')' ? "')'" : closer == ']' ? "']'" : "'}'");
    return;
  }
  /* Operators can always continue an expression: listing them helps nobody. */
  drop(e, (const int[]){'+', '-', '*', '/', '@', TOK_DOT, '^', '(', TOK_TRANSPOSE, TOK_YYEOF},
       10);
  if (e->want[YYSYMBOL_NEWLINE] && !wants(e, ';'))
    e->want[YYSYMBOL_NEWLINE] = false; /* between blocks, where ';' is no separator */
  /* ... and where a statement could end, so could it have: '}' and a target's ':' kind are
   * rarely what was meant. */
  if (e->want[YYSYMBOL_NEWLINE])
    drop(e, (const int[]){'}', ':'}, 2);
  for (int k = 0; k < YYNTOKENS; k++)
    if (e->want[k])
      say(e, symbol_text((yysymbol_kind_t)k));
}

/* `output = h`, written like `loss = ...`: reported with the two spellings that work, and kept
 * as `output h`, so that the parse goes on without a cascade. */
static void output_equals(ParseState *ps, Loc eq, const AstNode *value) {
  const char *v = arena_strndup(ps->arena, ps->src->text + value->loc.off, value->loc.len);
  diag_error(ps->diag, eq, "'output' is followed by its value, without '='");
  diag_hint(ps->diag, "write 'output %s', or 'output NAME = %s' to name it", v, v);
}

static void open_block(ParseState *ps, const char *kind, const char *name, Loc brace) {
  ps->in_train = kind[0] == 't';
  ps->ops = 0;
  ps->open_block.kind = kind;
  ps->open_block.name = name;
  ps->open_block.brace = brace;
}

/* The next block's keyword, or the end of the file, inside a block with nothing else open: its
 * '}' is missing. Said once, with a note at the '{' it would close. */
static bool unclosed_block(ParseState *ps, yysymbol_kind_t got, Loc loc, const char *text) {
  if (!ps->open_block.kind || ps->nbraces != 1 || ps->depth != 0 ||
      (got != YYSYMBOL_MODEL && got != YYSYMBOL_TRAIN && got != YYSYMBOL_YYEOF))
    return false;
  diag_error(ps->diag, loc, "the %s block '%s' is not closed: expected '}' before %s",
             ps->open_block.kind, ps->open_block.name, text);
  diag_note(ps->diag, ps->open_block.brace, "the %s block '%s' opens here", ps->open_block.kind,
            ps->open_block.name);
  ps->open_block.kind = NULL;
  return true;
}

static int yyreport_syntax_error(const yypcontext_t *ctx, ParseState *ps) {
  yysymbol_kind_t got = yypcontext_token(ctx);
  Loc loc = *yypcontext_location(ctx);
  const char *text = token_text(ps, got, loc);
  if (unclosed_block(ps, got, loc, text))
    return 0;
  Expected e = {0};
  expected_phrases(ctx, &e);
  bool stray_closer = got == YYTRANSLATE(')') || got == YYTRANSLATE(']')
                      || got == YYTRANSLATE('}');
  if (e.n == 0 || e.n > MAX_PHRASES || (stray_closer && !e.category && e.n > 1)) {
    diag_error(ps->diag, loc, "unexpected %s", text);
    return 0;
  }
  const char *list = e.phrase[0];
  for (int i = 1; i < e.n; i++)
    list = arena_printf(ps->arena, "%s%s%s", list, i + 1 < e.n ? ", " : " or ", e.phrase[i]);
  diag_error(ps->diag, loc, "expected %s before %s", list, text);
  return 0;
}

/* Bison calls yyerror only when its stack is exhausted ("memory exhausted"), which only
 * nesting (of '-' and '^', the others being capped by the lexer) can do. */
static void yyerror(Loc *loc, ParseState *ps, const char *msg) {
  (void)msg;
  diag_error(ps->diag, *loc, "expression nested too deeply (the parser's limit is %d levels)",
             YYMAXDEPTH);
}

/* --- driver ------------------------------------------------------------------------------ */

static int yylex(YYSTYPE *val, Loc *loc, ParseState *ps) {
  if (ps->stop) {
    *loc = (Loc){ps->off, 0, ps->line, ps->col};
    return TOK_YYEOF;
  }
  return lex_scan(val, loc, ps->scanner);
}

static bool scan_begin(ParseState *ps, Arena *arena, Diag *diag, const Source *src) {
  *ps = (ParseState){.arena = arena, .diag = diag, .src = src, .line = 1, .col = 1};
  if (src->len > INT_MAX) {
    diag_error(diag, (Loc){0}, "file too large");
    return false;
  }
  if (yylex_init_extra(ps, &ps->scanner) != 0) {
    diag_error(diag, (Loc){0}, "out of memory");
    return false;
  }
  yy_scan_bytes(src->text, (int)src->len, ps->scanner);
  return true;
}

AstNode *parse_source(Arena *arena, Diag *diag, const Source *src) {
  ParseState ps;
  if (!scan_begin(&ps, arena, diag, src))
    return NULL;
  yyparse(&ps);
  yylex_destroy(ps.scanner);
  return ps.result.head;
}

int lex_tokens(Arena *arena, Diag *diag, const Source *src, LexToken **out) {
  ParseState ps;
  *out = NULL;
  if (!scan_begin(&ps, arena, diag, src))
    return 0;
  int n = 0, cap = 0;
  for (;;) {
    YYSTYPE val = {0};
    Loc loc;
    int tok = yylex(&val, &loc, &ps);
    if (tok == TOK_YYEOF)
      break;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      LexToken *grown = ARENA_ARRAY(arena, LexToken, cap);
      if (n)
        memcpy(grown, *out, sizeof(LexToken) * (size_t)n);
      *out = grown;
    }
    yysymbol_kind_t kind = YYTRANSLATE(tok);
    (*out)[n++] = (LexToken){symbol_text(kind), loc, kind == YYSYMBOL_NUMBER ? val.num : 0,
                             kind == YYSYMBOL_IDENT || kind == YYSYMBOL_STRING ? val.str : NULL};
  }
  yylex_destroy(ps.scanner);
  return n;
}
