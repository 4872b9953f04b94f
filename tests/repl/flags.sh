#!/bin/sh
# flags.sh NNC SRCDIR: the three front ends of the train command -- the compiled program
# (./xor train), `nnc run xor.nn train` and the REPL's :train -- accept and reject the same
# options with the same messages. The options are the runtime's table, as :train --help lists
# it; each is tried without a value, with a bad value and with a good one (then followed by
# an unknown option, so that an accepted option shows as the unknown one's message). A row
# added to the table is tried here; a kind of value this file does not know fails the test.
# (The --name=value form and the other paths of the parser are test_cli's; each case here costs
# a JIT compilation, so there are few per option.)
. "$2/tests/e2e/lib.sh"
NNC=$1
cp "$2/examples/xor.nn" .
"$NNC" xor.nn -o xor || { fail "nnc compiles xor.nn"; finish; }

printf '%s\n' ':load xor.nn' ':train --help' | "$NNC" repl >table.out 2>table.err
sed -n 's/^  \(--[a-z-]*\) \([A-Z]*\) .*/\1 \2/p' table.out >flags
if [ "$(wc -l <flags)" -ge 10 ]; then pass ":train --help lists $(wc -l <flags) options"
else fail ":train --help lists the options"; show table; fi
"./xor" train --help >prog_help.out
while read -r flag value; do
  grep -qF -- "$flag" prog_help.out || fail "./xor train --help does not mention $flag"
done <flags

# The cases: one per line, the arguments after `train` separated by blanks, then after '|' the
# REPL's spelling when it differs.
: >cases
while read -r flag value; do
  case $value in
    N|B|T) good=2 bad=0 ;;
    K) good=1 bad=-1 ;;
    X) good=0.5 bad=0 ;;
    S) good=3 bad=-3 ;;
    PATH) good=out.x bad= ;;
    '') good= bad="=1" ;; # a flag: no value, and "--flag=1" is refused
    *) fail "no values to try for $flag $value: add its kind to flags.sh"; continue ;;
  esac
  echo "$flag $good --zzz 1" >>cases
  case $bad in =*) echo "$flag$bad" >>cases ;; ?*) echo "$flag $bad" >>cases ;; esac
done <flags
echo "--epochs" >>cases
echo "--epoch 3" >>cases
echo "--log-every=-1|log_every=-1" >>cases

# The REPL: one session, case k on line k + 1; each case says one thing on line k + 1.
{ echo ':load xor.nn'; sed -e 's/^[^|]*|//' -e 's/^/:train /' cases; } |
  "$NNC" repl >repl.out 2>repl.err
k=1
while IFS='|' read -r args repl_args; do
  k=$((k + 1))
  # shellcheck disable=SC2086
  ./xor train $args >p.out 2>p.err
  prc=$?
  # shellcheck disable=SC2086
  "$NNC" run xor.nn train $args >j.out 2>j.err
  jrc=$?
  pmsg=$(head -n 1 p.err | sed 's/^xor: //')
  jmsg=$(head -n 1 j.err | sed 's/^xor: //')
  rmsg=$(sed -n "s/^<repl>:$k: error: //p" repl.err)
  if [ -n "$pmsg" ] && [ "$pmsg" = "$jmsg" ] && [ "$pmsg" = "$rmsg" ] && [ $prc -eq 2 ] &&
     [ $jrc -eq 2 ]; then
    pass "train $args${repl_args:+ (:train $repl_args)}: $pmsg"
  else
    fail "train $args: program ($prc) '$pmsg', nnc run ($jrc) '$jmsg', :train '$rmsg'"
  fi
done <cases
finish
