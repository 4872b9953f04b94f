# Shared by the CNN end-to-end tests (cnn_*.sh, fashion_cnn.sh, fashion_resnet.sh), sourced after
# lib.sh: a data set of 6 × 6 images written here and a CNN with batch norm and dropout for it,
# and the first images of Fashion-MNIST cut into IDX files of their own.

# bars_csv FILE ROWS SEED: ROWS images [1, 6, 6] as CSV (36 pixels, then the label), no header:
# class 0 a vertical bar, 1 a horizontal bar, 2 a diagonal, at places and with background noise
# drawn from a Park–Miller generator (the same numbers under every awk).
bars_csv() {
  awk -v rows="$2" -v seed="$3" '
    function rnd(n) { seed = (seed * 16807) % 2147483647; return int(seed / 2147483647 * n) }
    BEGIN {
      for (r = 0; r < rows; r++) {
        c = r % 3; at = rnd(6); flip = rnd(2); line = ""
        for (i = 0; i < 6; i++)
          for (j = 0; j < 6; j++) {
            on = c == 0 ? j == at : c == 1 ? i == at : flip ? i + j == 5 : i == j
            line = line (on ? 7 + rnd(3) : rnd(3)) ","
          }
        print line c
      }
    }' >"$1"
}

# bars_model FILE EPOCHS: the CNN (conv → batch_norm → relu → max_pool → conv → batch_norm →
# relu → dropout → dense → softmax) training on bars.csv and validating on bars_val.csv.
bars_model() {
  cat >"$1" <<NN
model bars {
  input  x[1, 6, 6]
  target y : class(3)
  c1 = conv2d(x, 6, 3, bias = false)
  n1 = batch_norm(c1)
  p1 = max_pool(relu(n1), 2)
  c2 = conv2d(p1, 8, 3, bias = false)
  n2 = batch_norm(c2, momentum = 0.2)
  d  = dropout(flatten(relu(n2)), 0.2)
  z  = dense(d, 3)
  loss = cross_entropy(softmax(z), y)
  output softmax(z)
}
train bars {
  data      = csv("bars.csv", scale = 1/9)
  validate  = csv("bars_val.csv", scale = 1/9)
  optimizer = adam(lr = 0.01)
  epochs    = $2
  batch     = 16
  shuffle   = true
  seed      = 4
}
NN
}

# be32 N: N as the 4 bytes of a big-endian integer (IDX headers).
be32() {
  printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) \
    $(($1 >> 8 & 255)) $(($1 & 255)))"
}

# fashion_subset SET N PREFIX: the first N images and labels of Fashion-MNIST's SET (train or
# t10k) as the IDX files PREFIX-images.idx and PREFIX-labels.idx (uncompressed): the header with
# the count N, then the first N records.
fashion_subset() {
  for _kind in "images 16 784" "labels 8 1"; do
    set -- "$1" "$2" "$3" $_kind
    _f="$FASHION/$1-$4-idx$([ "$4" = images ] && echo 3 || echo 1)-ubyte.gz"
    { gzip -dc "$_f" | head -c 4; be32 "$2"; gzip -dc "$_f" | tail -c +9 | head -c $(($5 - 8 + $2 * $6))
    } >"$3-$4.idx"
  done
}

# bars_files EPOCHS: the training rows bars.csv, the validation rows bars_val.csv and the model
# bars.nn trained for EPOCHS, as every bars test uses them.
bars_files() {
  bars_csv bars.csv 150 7
  bars_csv bars_val.csv 60 11
  bars_model bars.nn "$1"
}

# fashion_label INDEX: the label of Fashion-MNIST test image INDEX.
fashion_label() {
  gzip -dc "$FASHION/t10k-labels-idx1-ubyte.gz" | tail -c +$((9 + $1)) | head -c 1 | od -An -tu1 |
    tr -d ' \n'
}

# predicts_label PROG INDEX: PROG predict on Fashion-MNIST test image INDEX (raw pixels) prints
# 10 probabilities and that image's label.
predicts_label() {
  want=$(fashion_label "$2")
  # shellcheck disable=SC2046
  run "img$2" "$1" predict $(fashion_image "$2")
  expect_rc "img$2" 0 "$1 predict (test image $2)"
  if msg=$(probs "img$2" 10); then
    [ "${msg% *}" = "$want" ] && pass "test image $2 is class $want" \
      || fail "test image $2: predicted class ${msg% *}, its label is $want"
  else fail "test image $2: $msg"; show "img$2"; fi
}
