#include "explain.h"

void explain_print(FILE *out, const Graph *g) { (void)out, (void)g; }
