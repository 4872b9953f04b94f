#!/bin/sh
# export.sh NNC SOURCE_DIR MODE: the weights-only export (train --weights-only) read outside nnc
# by tests/e2e/export_torch.py, whose outputs must be ./m predict's. MODE flats-numpy needs
# only numpy; flats-torch and bars-torch need torch and exit 77 (skipped) without it.
NNC=$1
SRC=$2
MODE=$3
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cnn_lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import numpy' 2>/dev/null || { echo "SKIP: no numpy for $PY"; exit 77; }
case $MODE in
  flats-*)
    mkdir data && cp "$SRC/examples/data/flats.csv" data/ && cp "$SRC/examples/flats.nn" .
    model=flats epochs=20 data=data/flats.csv ;;
  bars-*) bars_files 8; model=bars epochs=8 data=bars_val.csv ;;
esac
run compile "$NNC" "$model.nn" -o "$model"
expect_rc compile 0 "nnc $model.nn"
run train "./$model" train --epochs "$epochs" --weights-only --save w.safetensors
expect_rc train 0 "./$model train --weights-only"
run predict "./$model" predict --weights w.safetensors --data "$data"
expect_rc predict 0 "./$model predict --data $data"
# A weights-only file: the weights (and statistics), no optimizer state, no run metadata.
"$PY" - w.safetensors >names.out <<'PY'
import json, struct, sys
blob = open(sys.argv[1], "rb").read()
header = json.loads(blob[8:8 + struct.unpack("<Q", blob[:8])[0]])
print(" ".join(sorted(header)), " ".join(sorted(header["__metadata__"])))
PY
if grep -qE '\.(m|v) |__order|step' names.out; then fail "--weights-only kept state: $(cat names.out)"
else pass "the --weights-only file holds no optimizer or run state"; fi
run resume "./$model" train --resume w.safetensors
expect_rc resume 3 "--resume of a weights-only file is refused"
run py "$PY" "$(dirname "$0")/export_torch.py" "$MODE" w.safetensors "$data" predict.out
[ "$RC" -eq 77 ] && { cat py.out; exit 77; }
expect_rc py 0 "$(cat py.out)"
finish
