/* parse: source text -> AST (flex lexer.l + bison parser.y).
 * Contract: returns the list of top-level blocks (AST_MODEL / AST_TRAIN), allocated in `arena`.
 * Syntax errors are reported through `diag` (file:line:col with a caret) and the parser recovers
 * at statement boundaries (newline, ';', '}'), so one run can report several errors; when
 * diag_count(diag) grew, the returned tree must not be used by later stages. Never exits. */
#ifndef NNC_PARSE_H
#define NNC_PARSE_H
#include "ast.h"

AstNode *parse_source(Arena *arena, Diag *diag, const Source *src);

#endif
