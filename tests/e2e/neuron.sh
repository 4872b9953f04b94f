#!/bin/sh
# neuron.sh NNC SOURCE_DIR: the untrained single neuron relu(w·x + b), w = [0.4, 0.6], b = 1.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

compile_example compile neuron neuron

# predict X1 X2 -> expected output, printed exactly
for case in "2 3:3.6" "3 2:3.4" "-10 0:0" "0 0:1"; do
  x=${case%%:*}; want=${case#*:}
  # shellcheck disable=SC2086
  run p ./neuron predict $x
  got=$(cat p.out)
  if [ "$RC" -eq 0 ] && [ "$got" = "$want" ]; then
    pass "./neuron predict $x printed $got"
  else
    fail "./neuron predict $x: exit $RC, printed '$got', expected exactly '$want'"; show p
  fi
done
finish
