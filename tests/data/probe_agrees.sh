#!/bin/sh
# probe_agrees.sh NNC SOURCE_DIR: nnc checks a CSV with the runtime's own reader, so a file whose
# first lines the loader refuses is refused at compile time for the same reason (with the
# loader's words), and a file nnc accepts this way loads in the compiled program.
NNC=$1
. "$2/tests/e2e/lib.sh"

write_csv_model m.nn t.csv

# A NUL byte in the first data row: the loader's reason, at compile time.
printf 'a,b,y\n1,\0002,3\n' >t.csv
run nul "$NNC" m.nn -o m
expect_rc nul 1 "nnc on a CSV with a NUL byte in its first rows"
contains nul.err "cannot load data file 't.csv': line 2: contains a NUL byte (is this a binary file?)" \
  "nnc gives the loader's reason"

# An unclosed quote in the header: the same.
printf 'a,"b,y\n1,2,3\n' >t.csv
run quote "$NNC" m.nn -o m
expect_rc quote 1 "nnc on a CSV with an unclosed quote"
contains quote.err "cannot load data file 't.csv': line 1: column 2 has no closing quote" \
  "nnc gives the loader's reason"

# Blank lines before the header are skipped by the loader, so by nnc too; the program loads it.
printf '\n \na,b,y\n1,2,3\n4,5,6\n' >t.csv
run blank "$NNC" m.nn -o m
expect_rc blank 0 "nnc on a CSV starting with blank lines"
run train ./m
expect_rc train 0 "./m loads the CSV nnc accepted"
finish
