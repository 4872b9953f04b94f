/* lex: the token stream of a .nn file, for the lexer's unit tests and for debugging.
 * Contract: lex_tokens runs the parser's own lexer over src with no parser attached, so
 * NEWLINE suppression, locations and lexical diagnostics are exactly what parse_source sees.
 * Tokens live in `arena`; the array ends before end of file. */
#ifndef NNC_LEX_H
#define NNC_LEX_H
#include "ast.h"

typedef struct {
  const char *kind; /* as in diagnostics: "identifier", "number", "string", "newline", "'('",
                       "'model'", "error" for a character the lexer rejected */
  Loc loc;
  double num;       /* a number's value */
  const char *name; /* an identifier's text; a string's decoded value */
} LexToken;

/* Returns the number of tokens stored in *out; lexical errors are reported to diag. */
int lex_tokens(Arena *arena, Diag *diag, const Source *src, LexToken **out);

#endif
