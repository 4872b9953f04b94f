#!/bin/sh
# data_errors.sh NNC SOURCE_DIR: bad data files, end to end. nnc checks a CSV's header and its
# column count only, so a cell that is not a number compiles, and the program rejects it when it
# loads the data: exit 1, naming the file, the line and the column. A data file that is gone at
# run time: exit 3, naming the path. The CSV's path is relative to the .nn file throughout.
NNC=$1
# shellcheck disable=SC2034  # the model is written here, not taken from SOURCE_DIR
SRC=$2
. "$(dirname "$0")/lib.sh"

mkdir model data elsewhere
write_csv_model model/m.nn ../data/t.csv 2

# A good file first: the model trains, from a directory that is neither the .nn's nor the data's.
printf 'a,b,y\n1,2,3\n4,5,6\n7,8,9\n' >data/t.csv
cd elsewhere || exit 1
run compile "$NNC" ../model/m.nn -o m
expect_rc compile 0 "nnc ../model/m.nn (data path relative to the .nn file)"
[ -x m ] || { fail "no executable 'm' was written"; finish; }
run good ./m
expect_rc good 0 "./m on a good CSV"

# Line 3 of the file (the second data row), its second column, is 'x5'.
printf 'a,b,y\n1,2,3\n4,x5,6\n7,8,9\n' >../data/t.csv
run recompile "$NNC" ../model/m.nn -o m2
expect_rc recompile 0 "nnc compiles a CSV with a non-numeric cell (it reads headers only)"
rm -f m.safetensors
run cell ./m
expect_rc cell 1 "./m on a CSV with a non-numeric cell"
contains cell.err "data/t.csv" "the error names the file"
contains cell.err "line 3" "the error names the line"
contains cell.err "column 2" "the error names the column"
contains cell.err "'x5'" "the error quotes the cell"
[ -e m.safetensors ] && fail "a failed load still saved weights"

# A row with a missing cell: exit 1 at its line.
printf 'a,b,y\n1,2,3\n4,5\n' >../data/t.csv
run ragged ./m
expect_rc ragged 1 "./m on a CSV with a short row"
contains ragged.err "line 3" "the short row's line is named"

# The file disappears after compiling: exit 3 with the path it looked for.
rm ../data/t.csv
run missing ./m
expect_rc missing 3 "./m with its CSV deleted"
# The path is absolute (resolved against the .nn file's directory when nnc compiled) and names
# the file that was deleted.
path=$(sed -n "s/^m: cannot load '\(.*\)': .*/\1/p" missing.err)
case $path in
  /*/t.csv)
    if [ "$(cd "${path%/t.csv}" 2>/dev/null && pwd -P)" = "$(cd ../data && pwd -P)" ]; then
      pass "the error gives the data file's absolute path ($path)"
    else
      fail "the path in the error, '$path', is not the deleted file"
    fi ;;
  *) fail "the error does not give the data file's absolute path"; show missing ;;
esac
contains missing.err "No such file" "the error says why"

# ... and nnc itself refuses to compile without it (exit 1, at the file name).
run nofile "$NNC" ../model/m.nn -o m3
expect_rc nofile 1 "nnc with the CSV missing"
contains nofile.err "cannot open data file" "nnc says it cannot open the data file"
[ -e m3 ] && fail "nnc wrote 'm3' although the data file is missing"
finish
