#!/bin/sh
# source.sh NNC SOURCE_DIR CASE — nnc on one hostile source file (tests/hostile.cmake runs each
# case as its own test). Every case must end with a clear message and nnc's documented exit code
# (docs/errors.md): 1 for errors in the input, 3 for a file that cannot be read; never a crash,
# a hang or a runaway allocation, and a failed `nnc -o out` leaves no `out`.
NNC=$1
SRC=$2
CASE=$3
. "$SRC/tests/e2e/lib.sh"
. "$SRC/tests/hostile/lib.sh"
IN=$SRC/tests/hostile/inputs

# check NAME FILE WANT_RC MESSAGE WHAT: nnc --check FILE within 60 s, and nnc FILE -o out,
# which must fail the same way and write no out.
check() {
  run "$1" within 60 "$NNC" --check "$2"
  expect_clean "$1" "$3" "$4" "$5"
  [ -s "$1.out" ] && fail "$5: nnc --check printed on stdout"
  run "$1_o" within 60 "$NNC" "$2" -o out
  expect_rc "$1_o" "$3" "$5, compiling with -o out"
  no_file out "$5"
}

case $CASE in
  random_bytes)
    # 4 KB of /dev/urandom, kept in the tree so the run is repeatable.
    check random "$IN/random.nn" 1 "error:" "random bytes"
    contains random.err "too many errors; stopping here" "nnc stops after 20 errors" ;;
  nul_bytes)
    check nul "$IN/nul.nn" 1 "nul.nn:2:13: error: stray '\\x00' in program" "a NUL byte" ;;
  invalid_utf8)
    check utf8 "$IN/invalid_utf8.nn" 1 "invalid_utf8.nn:1:8: error: stray '\\xFF' in program" \
      "invalid UTF-8"
    contains utf8.err "invalid_utf8.nn:2:10: error: stray '\\xC3' in program" \
      "a truncated sequence is reported at its byte" ;;
  ten_megabytes)
    # A 10 MB file under the 16 MiB limit is read and checked as any other: one model, then
    # 10 MB of comments and blank lines.
    { printf 'model m {\n  input x[2]\n  output x\n}\n'
      awk 'BEGIN { s = "# " sprintf("%98s", ""); gsub(/ /, "x", s)
                   for (i = 0; i < 100000; i++) print (i % 10 ? s : "") }'
    } >ten.nn
    run ten within 60 "$NNC" --check ten.nn
    expect_rc ten 0 "a 10 MB source is checked"
    [ -s ten.err ] && { fail "a 10 MB source: nnc printed on stderr"; show ten; } ;;
  over_size_limit)
    # One byte past the 16 MiB limit: refused before it is read.
    awk 'BEGIN { s = sprintf("%1023s", ""); for (i = 0; i < 16384; i++) print s }' >big.nn
    printf 'x' >>big.nn
    check big big.nn 3 "nnc: error: 'big.nn' is larger than the limit of 16 MiB" \
      "a source over 16 MiB" ;;
  nesting)
    awk 'BEGIN { printf "model m {\n  input x[2]\n  output "
                 for (i = 0; i < 10000; i++) printf "("; printf "x"
                 for (i = 0; i < 10000; i++) printf ")"; printf "\n}\n" }' >nest.nn
    check nest nest.nn 1 "nest.nn:3:266: error: brackets nested too deeply (the limit is 256)" \
      "10,000 nested parentheses"
    [ "$(grep -c 'error:' nest.err)" -eq 1 ] && pass "one diagnostic for the nesting" ||
      fail "more than one diagnostic for the nesting" ;;
  number_overflow)
    printf 'model m {\n  input x[2]\n  param W[2, 1] = normal(0, 1e999)\n  output x @ W\n}\n' >num.nn
    check num num.nn 1 "num.nn:3:29: error: number out of range" "a number past the double range"
    printf 'model m {\n  input x[99999999999999999999999]\n  output x\n}\n' >dim.nn
    check dim dim.nn 1 "is larger than the limit of 2147483647" "a dimension past 2^64" ;;
  shape_overflow)
    # The product of the dimensions is 2^64: each dimension is refused on its own.
    printf 'model m {\n  input x[2]\n  param W[4294967296, 4294967296]\n  output x\n}\n' >ovf.nn
    check ovf ovf.nn 1 "ovf.nn:3:11: error: dimension 4294967296 is larger than the limit of 2147483647" \
      "a shape whose product overflows 64 bits"
    contains ovf.err "ovf.nn:3:23: error: dimension 4294967296" "both dimensions are named"
    # Four dimensions under the limit whose product is about 2^124.
    printf 'model m {\n  input x[2]\n  param W[2147483647, 2147483647, 2147483647, 2147483647]\n  output x\n}\n' >ovf4.nn
    check ovf4 ovf4.nn 1 "ovf4.nn:3:3: error: 'W' has more than 2^31 elements, the largest tensor nnc plans" \
      "four dimensions whose product overflows 64 bits" ;;
  shape_memory)
    printf 'model m {\n  input x[2]\n  param W[65536, 65536]\n  output x\n}\n' >mem.nn
    check mem mem.nn 1 "mem.nn:3:3: error: 'W' has more than 2^31 elements, the largest tensor nnc plans" \
      "a 2^32-element parameter"
    printf 'model m {\n  input x[100000]\n  h = dense(x, 100000)\n  output h\n}\n' >dense.nn
    check dense dense.nn 1 "a 100000 × 100000 weight matrix has more than 2^31 elements" \
      "a layer whose weights exceed the limit" ;;
  directory)
    mkdir dir.nn
    check dir dir.nn 3 "nnc: error: cannot read 'dir.nn': not a regular file" "a directory" ;;
  unreadable)
    printf 'model m {\n  input x[2]\n  output x\n}\n' >locked.nn
    chmod 000 locked.nn
    if [ "$(id -u)" -ne 0 ]; then
      check locked locked.nn 3 "nnc: error: cannot read 'locked.nn': Permission denied" \
        "an unreadable file"
    elif command -v setpriv >/dev/null 2>&1 &&
         setpriv --reuid=65534 --regid=65534 --clear-groups "$NNC" --version >/dev/null 2>&1; then
      # root reads anything: run nnc as nobody.
      chmod 755 "$WORK"
      run locked setpriv --reuid=65534 --regid=65534 --clear-groups "$NNC" --check "$WORK/locked.nn"
      expect_clean locked 3 "nnc: error: cannot read '$WORK/locked.nn': Permission denied" \
        "an unreadable file"
    else
      skip "running as root, and nnc cannot be run as nobody here"
    fi ;;
  missing)
    check missing no-such-file.nn 3 "nnc: error: cannot read 'no-such-file.nn': No such file or directory" \
      "a file that does not exist" ;;
  no_partial_output)
    printf 'model m {\n  input x[2]\n  output y\n}\n' >bad.nn
    printf 'old' >out
    run bad "$NNC" bad.nn -o out
    expect_clean bad 1 "error: unknown name 'y'" "an error in the input"
    [ "$(cat out)" = old ] && pass "an existing output is left as it was" ||
      fail "a failed compile changed the existing output"
    rm -f out
    # The linker fails (CC is false): exit 3, and neither out nor its temporary file is left.
    printf 'model m {\n  input x[2]\n  output x\n}\n' >good.nn
    run link env CC=false "$NNC" good.nn -o out
    expect_clean link 3 "nnc: error: the linker command 'false' failed" "a failing linker"
    no_file out "a failing linker"
    ls out.tmp.* >/dev/null 2>&1 && fail "a failing linker left a temporary file" ||
      pass "a failing linker leaves no temporary file" ;;
  *) echo "source.sh: unknown case '$CASE'"; exit 2 ;;
esac
finish
