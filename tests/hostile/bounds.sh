#!/bin/sh
# bounds.sh NNC SOURCE_DIR CASE — nnc on inputs at the front end's resource bounds (lang/
# reference.md, "Limits"), generated here; tests/hostile.cmake runs each case as its own test.
# Each run has 30 s and 2 GB of address space (ulimit -v) and must end with exit 0, or with
# the documented exit code and a message naming the limit; never a crash or an internal error.
#   big_source          100 MB of source: refused before it is read (16 MiB), exit 3
#   million_statements  10^6 definitions: compiled; 8 * 10^5 chained ones: the depth limit
#   deep_expression     nested 10^5 deep with '(', unary '-', '^' and '+': each its limit
#   million_rows        a table of 10^6 rows: checked, compiled and trained on
NNC=$1
SRC=$2
CASE=$3
. "$SRC/tests/e2e/lib.sh"
. "$SRC/tests/hostile/lib.sh"

# bounded NAME CMD...: run NAME of CMD within 30 s and 2 GB of address space.
bounded() {
  _name=$1; shift
  if sanitized; then # AddressSanitizer cannot start under ulimit -v: the time bound only
    run "$_name" timeout 30 "$@"
  else
    run "$_name" sh -c 'ulimit -v 2097152 && exec timeout 30 "$@"' bounded "$@"
  fi
}

# succeeded NAME WHAT: run NAME exited 0 and printed no crash and no internal error.
succeeded() {
  expect_rc "$1" 0 "$2"
  ! grep -qE 'Sanitizer|runtime error:|internal error' "$1.err" ||
    fail "$2: stderr shows a crash or an internal error"
}

# gen_model FILE AWK_BODY: a model with input x[2] whose statements AWK_BODY prints.
gen_model() {
  awk "BEGIN { printf \"model m {\\n  input x[2]\\n\"; $2; printf \"}\\n\" }" >"$1"
}

# deep NAME OP: `output` followed by 10^5 levels of OP around x.
deep() {
  awk -v op="$2" 'BEGIN { n = 100000; printf "model m {\n  input x[2]\n  output "
    if (op == "(") { for (i = 0; i < n; i++) printf "("; printf "x"; for (i = 0; i < n; i++) printf ")" }
    else if (op == "-") { for (i = 0; i < n; i++) printf "-"; printf "x" }
    else { printf "x"; for (i = 0; i < n; i++) printf "%s x", op }
    printf "\n}\n" }' >"$1.nn"
  bounded "$1" "$NNC" --check "$1.nn"
}

case $CASE in
  big_source)
    gen_model big.nn 'for (i = 0; i < 6000000; i++) printf "  a%d = x + x\n", i; printf "  output x\n"'
    head -c 100000000 big.nn >big100.nn
    [ "$(wc -c <big100.nn)" -eq 100000000 ] || fail "the generated source is not 100 MB"
    bounded big "$NNC" big100.nn -o out
    expect_clean big 3 "nnc: error: 'big100.nn' is larger than the limit of 16 MiB" "a 100 MB source"
    no_file out "a 100 MB source" ;;
  million_statements)
    gen_model stmts.nn 'for (i = 0; i < 1000000; i++) printf "a%d=x\n", i; printf "  output a999999\n"'
    bounded stmts "$NNC" stmts.nn -o stmts
    succeeded stmts "10^6 statements compile"
    [ -x stmts ] && pass "10^6 statements: the program is written" ||
      fail "10^6 statements: no program"
    gen_model chain.nn 'printf "a0=x\n"; for (i = 1; i < 800000; i++) printf "a%d=a%d+x\n", i, i - 1
                        printf "  output a799999\n"'
    bounded chain "$NNC" chain.nn -o chain
    expect_clean chain 1 "chain.nn:10004:1: error: 'a10001' is more than 10000 operations deep, counting through the values it uses (the limit is 10000)" \
      "8 * 10^5 chained statements"
    [ "$(grep -c 'error:' chain.err)" -eq 1 ] && pass "one diagnostic for the depth" ||
      fail "more than one diagnostic for the depth"
    no_file chain "8 * 10^5 chained statements" ;;
  deep_expression)
    deep paren "("
    expect_clean paren 1 "paren.nn:3:266: error: brackets nested too deeply (the limit is 256)" \
      "10^5 nested parentheses"
    deep neg "-"
    expect_clean neg 1 "neg.nn:3:10001: error: expression nested too deeply (the parser's limit is 10000 levels)" \
      "10^5 nested unary minus"
    deep pow "^"
    expect_clean pow 1 "error: expression nested too deeply (the parser's limit is 10000 levels)" \
      "x ^ x ^ ... 10^5 deep (right-associative)"
    deep plus "+"
    expect_clean plus 1 "plus.nn:3:10: error: expression too long (more than 4096 operators)" \
      "x + x + ... 10^5 operators" ;;
  million_rows)
    awk 'BEGIN { printf "model m {\n  input x[2]\n  target y[1]\n  param W[2, 1] = normal(0, 1)\n"
                 printf "  p = x @ W\n  loss = mean((p - y)^2)\n  output p\n}\n"
                 printf "train m {\n  epochs = 1\n  batch = 1000\n  data = table {\n"
                 for (i = 0; i < 1000000; i++) printf "%d %d -> %d\n", i % 2, i % 3, i % 5
                 printf "  }\n}\n" }' >rows.nn
    bounded rows_check "$NNC" --check rows.nn
    succeeded rows_check "a table of 10^6 rows is checked"
    bounded rows "$NNC" rows.nn -o rows
    succeeded rows "a table of 10^6 rows compiles"
    bounded rows_train ./rows train --save rows.st
    succeeded rows_train "training on a table of 10^6 rows"
    contains rows_train.out "saved weights to rows.st" "training on 10^6 rows saves" ;;
  *) echo "bounds.sh: unknown case '$CASE'"; exit 2 ;;
esac
finish
