/* repl: nnc's interactive loop (`nnc repl [FILE]`, `nnc -i [FILE]`) and `nnc run FILE ...`.
 * Contract: every model is compiled by the normal pipeline (compilation_front, program_plan,
 * codegen_module) and run through the JIT (jit.h), one Jit instance per definition, so a
 * redefinition releases the old code with jit_free; expressions are compiled the same way as a
 * one-output model of constants (the interpreter is never used). Training, prediction, saving
 * and loading are nnrt's functions (nnrt_host.h), so their output and files are a generated
 * program's. A user error (syntax, shape, bad command, missing file, bad data) prints its
 * diagnostic and the loop goes on; only :quit and end of input end it (exit status 0).
 * docs/repl.md describes the commands. */
#ifndef NNC_REPL_H
#define NNC_REPL_H

/* argv holds the arguments after `repl` / `-i`: at most one file to load first. */
int repl_main(int argc, char **argv);
/* argv holds the arguments after `run`: FILE.nn [--model NAME] [COMMAND] [OPTIONS]. Compiles
 * the model on the JIT and runs the compiled program's command line (nnrt_cli_main) with the
 * arguments after FILE.nn; exit codes as nnc's (driver.h) before, the program's after. */
int run_main(int argc, char **argv);

#endif
