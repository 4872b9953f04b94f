#!/bin/sh
# cnn_loops.sh NNC SOURCE_DIR: the elementwise kernels of examples/fashion_cnn.nn's training step
# (the ReLU′ masks, the bias + ReLU moved to channels first, the moves of δ to channels last,
# the optimizer's updates of the [F, C, 3, 3] weights)
# hold no gather or scatter in their optimised IR: one that reads in place is one vector loop
# over the pixels, one that reads through a permutation stays scalar (codegen.c). A gather there
# costs more than the scalar loads it replaces (docs/performance.md, the CNN part).
# Nor do the window kernels (unfold, fold, the pools and their adjoints) of fashion_cnn.nn and
# fashion_resnet.nn (codegen_window.c): the resnet's 1 × 1 shortcut unfold was vectorised
# across its channels as gathers 196 floats apart.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

run ir "$NNC" "$SRC/examples/fashion_cnn.nn" --emit=llvm
expect_rc ir 0 "nnc fashion_cnn.nn --emit=llvm"
# the functions nnk_step_<id>_<op> of the elementwise ops, with their gathers and scatters
awk '/^define/ { f = ""; if (match($0, /@nnk_step_[0-9]+_(mul|max|add|permute)\(/))
                   f = substr($0, RSTART + 1, RLENGTH - 2) }
     f && /llvm\.masked\.(gather|scatter)/ { n[f]++ }
     END { for (f in n) print f, n[f] }' ir.out >gathers.txt
kernels=$(grep -c '^define.*@nnk_step_[0-9]*_\(mul\|max\|permute\)(' ir.out)
if [ "$kernels" -lt 4 ]; then
  fail "expected the step's mul, max and permute kernels in the IR, found $kernels"
elif [ -s gathers.txt ]; then
  fail "elementwise kernels that gather or scatter:"; sed 's/^/  | /' gathers.txt
else
  pass "none of the step's $kernels mul, max and permute kernels gathers or scatters"
fi

# window_gathers IR: the window kernels of IR that gather or scatter, with how many
window_gathers() {
  awk '/^define/ { f = ""; if (match($0, /@nnk_step_[0-9]+_(unfold|fold|maxpool|maxpool_back|avgpool|avgpool_back)\(/))
                     f = substr($0, RSTART + 1, RLENGTH - 2) }
       f && /llvm\.masked\.(gather|scatter)/ { n[f]++ }
       END { for (f in n) print f, n[f] }' "$1"
}

run resnet "$NNC" "$SRC/examples/fashion_resnet.nn" --emit=llvm
expect_rc resnet 0 "nnc fashion_resnet.nn --emit=llvm"
for model in ir resnet; do
  name=$([ $model = ir ] && echo fashion_cnn.nn || echo fashion_resnet.nn)
  window_gathers $model.out >window_$model.txt
  windows=$(grep -c '^define.*@nnk_step_[0-9]*_\(unfold\|fold\|maxpool\|maxpool_back\|avgpool\|avgpool_back\)(' $model.out)
  if [ "$windows" -lt 5 ]; then
    fail "$name: expected the step's unfold, fold and pool kernels in the IR, found $windows"
  elif [ -s window_$model.txt ]; then
    fail "$name: window kernels that gather or scatter:"; sed 's/^/  | /' window_$model.txt
  else
    pass "$name: none of the $windows window kernels gathers or scatters"
  fi
done
finish
