#!/bin/sh
# data.sh NNC SOURCE_DIR CASE — a generated program on one hostile data file (tests/hostile.cmake
# runs each case as its own test). The program is compiled against a good file, which is then
# replaced, as when a data set is swapped or damaged after compiling. The program must exit 1
# (bad data, docs/errors.md) naming the file and what is wrong, save no weights, and never
# crash or allocate what the file only claims; nnc itself, compiling against the bad file,
# must refuse it with exit 1 where it reads the file (headers and first lines) at all.
NNC=$1
SRC=$2
CASE=$3
. "$SRC/tests/e2e/lib.sh"
. "$SRC/tests/hostile/lib.sh"

# idx_model: f.nn trains on img and lab (4 values per image, 10 classes); compiled to ./f
# against 3 good records.
idx_model() {
  cat >f.nn <<'NN'
model f {
  input  x[4]
  target y : class(10)
  h = dense(x, 10)
  loss = cross_entropy(softmax(h), y)
  output softmax(h)
}
train f {
  data   = idx("img", "lab", scale = 1/255)
  epochs = 1
  batch  = 2
}
NN
  idx_header 3 3 2 2 >img; printf '\000\001\002\003\004\005\006\007\010\011\012\013' >>img
  idx_header 1 3 >lab; printf '\001\003\011' >>lab
  run compile "$NNC" f.nn -o f
  expect_rc compile 0 "nnc compiles the IDX model against good files"
  [ -x f ] || finish
  cp img img.good
}

# csv_model: c.nn trains on t.csv (2 features, 1 target, a header line); compiled to ./c.
csv_model() {
  write_csv_model c.nn t.csv
  printf 'a,b,y\n1,2,3\n4,5,6\n' >t.csv
  run compile "$NNC" c.nn -o c
  expect_rc compile 0 "nnc compiles the CSV model against a good file"
  [ -x c ] || finish
}

# idx_header NDIM DIM...: an IDX header of unsigned bytes (magic 00 00 08 NDIM, big-endian dims).
idx_header() {
  printf '\000\000\010'
  printf "\\$(printf '%03o' "$1")"
  shift
  for d in "$@"; do
    printf "\\$(printf '%03o' $((d >> 24 & 255)))\\$(printf '%03o' $((d >> 16 & 255)))"
    printf "\\$(printf '%03o' $((d >> 8 & 255)))\\$(printf '%03o' $((d & 255)))"
  done
}

# program NAME EXE MESSAGE WHAT: running EXE fails with exit 1 and MESSAGE, saving no weights.
program() {
  rm -f "$2.safetensors"
  run "$1" within 60 "./$2"
  expect_clean "$1" 1 "$3" "$4"
  no_file "$2.safetensors" "$4: no weights saved"
}

# compiler NAME NN MESSAGE WHAT: nnc NN -o out fails with exit 1 and MESSAGE, writing no out.
compiler() {
  run "$1" within 60 "$NNC" "$2" -o out
  expect_clean "$1" 1 "$3" "$4 (nnc)"
  no_file out "$4 (nnc)"
}

case $CASE in
  idx_dims_beyond_file)
    idx_model
    # Both files claim 60000 records; the images hold 3.
    idx_header 3 60000 2 2 >img; printf 'abcdefghijkl' >>img
    idx_header 1 60000 >lab; printf '\001\003\011' >>lab
    program dims f "cannot load '$WORK/img': truncated: expected 240000 bytes of data, file ends after 12" \
      "IDX dimensions larger than the file"
    # Dimensions whose product is far past the loader's 2 GiB limit: refused from the header.
    idx_header 3 4294967295 65535 65535 >img; printf 'abcdefghijkl' >>img
    program huge f "cannot load '$WORK/img': the header claims more than 2147483648 bytes of data, the loader's limit" \
      "IDX dimensions past the size limit"
    # nnc reads the headers: the counts disagree.
    compiler dims_nnc f.nn "idx files disagree: 4294967295 images but 60000 labels" \
      "IDX dimensions larger than the file" ;;
  idx_wrong_magic)
    idx_model
    printf 'P5\n2 2\n255\n' >img
    program magic f "cannot load '$WORK/img': not an IDX file (magic 0x50350a32)" "a file that is not IDX"
    compiler magic_nnc f.nn "'img' is not an idx file (its header is wrong)" "a file that is not IDX"
    { printf '\000\000\011\003'; tail -c +5 img.good; } >img
    program type f "IDX type 0x09 (signed byte) is not supported, only 0x08 (unsigned byte)" \
      "an IDX file of signed bytes" ;;
  idx_truncated_gzip)
    idx_model
    # 1000 records of 4 random bytes (which do not compress), gzipped, cut in the middle of the
    # compressed stream.
    idx_header 3 1000 2 2 >big
    head -c 4000 /dev/urandom >>big
    gzip -9 -n -c big >big.gz
    head -c $(($(wc -c <big.gz) / 2)) big.gz >img
    idx_header 1 1000 >lab; awk 'BEGIN { for (i = 0; i < 1000; i++) printf "%c", 48 + i % 10 }' | tr '0-9' '\000-\011' >>lab
    program trunc f "cannot load '$WORK/img': truncated: expected 4000 bytes of data, file ends after" \
      "a truncated gzipped IDX file"
    # The header itself cut short inside the gzip stream.
    gzip -n -c img.good | head -c 20 >img
    program trunc_head f "cannot load '$WORK/img': truncated: expected 16 bytes of header" \
      "a gzipped IDX file cut inside its header" ;;
  idx_empty)
    idx_model
    : >img
    program empty f "cannot load '$WORK/img': empty file" "an empty IDX file"
    compiler empty_nnc f.nn "'img' is not an idx file (its header is wrong)" "an empty IDX file" ;;
  csv_million_columns)
    csv_model
    # A million columns of "1,": 2 MB, past the 1 MiB line limit.
    awk 'BEGIN { print "a,b,y"; printf "1"; for (i = 1; i < 1000000; i++) printf ",1"; print "" }' >t.csv
    program million c "cannot load '$WORK/t.csv': line 2: longer than 1048576 bytes" \
      "a CSV row of a million columns"
    # 200,000 narrow columns fit in a line: the column limit refuses them.
    awk 'BEGIN { print "a,b,y"; printf "1"; for (i = 1; i < 200000; i++) printf ",1"; print "" }' >t.csv
    program cells c "cannot load '$WORK/t.csv': line 2: more than 100000 columns" \
      "a CSV row of 200,000 columns" ;;
  csv_long_line)
    csv_model
    { printf 'a,b,y\n'; head -c 100000000 /dev/zero | tr '\0' '1'; printf ',2,3\n'; } >t.csv
    program long c "cannot load '$WORK/t.csv': line 2: longer than 1048576 bytes" \
      "a CSV line of 100 MB" ;;
  csv_empty)
    csv_model
    : >t.csv
    program empty c "cannot load '$WORK/t.csv': empty file" "an empty CSV file"
    compiler empty_nnc c.nn "data file 't.csv' is empty" "an empty CSV file"
    printf 'a,b,y\n' >t.csv
    program header_only c "cannot load '$WORK/t.csv'" "a CSV file with a header and no rows"
    compiler header_only_nnc c.nn "data file 't.csv' has a header line but no rows" \
      "a CSV file with a header and no rows" ;;
  *) echo "data.sh: unknown case '$CASE'"; exit 2 ;;
esac
finish
