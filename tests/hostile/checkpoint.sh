#!/bin/sh
# checkpoint.sh NNC SOURCE_DIR CASE — a generated program given one hostile safetensors file as
# its weights (tests/hostile.cmake runs each case as its own test): `xor predict --weights
# FILE 1 0` must exit 3 (a weights file that cannot be read or does not fit the model,
# docs/errors.md) with "cannot load 'FILE': why", print no prediction, never crash, and never
# allocate what the header only claims.
NNC=$1
SRC=$2
CASE=$3
. "$SRC/tests/e2e/lib.sh"
. "$SRC/tests/hostile/lib.sh"

# examples/xor.nn: W1[2,2], b1[2], W2[2,1], b2[1], all F32.
compile_example compile xor xor

# le64 N: N as 8 little-endian bytes.
le64() {
  _n=$1; _i=0
  while [ $_i -lt 8 ]; do
    printf "\\$(printf '%03o' $((_n & 255)))"; _n=$((_n >> 8)); _i=$((_i + 1))
  done
}

# st FILE JSON DATA_BYTES [HEADER_LENGTH]: a safetensors file: the header length (by default
# JSON's), JSON, then DATA_BYTES zero bytes.
st() {
  _len=${4:-$(printf '%s' "$2" | wc -c)}
  { le64 "$_len"; printf '%s' "$2"; head -c "$3" /dev/zero; } >"$1"
}

# The tensors of xor with offsets as written: W1 0..16, b1 16..24, W2 24..32, b2 32..36.
W1='"W1":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}'
B1='"b1":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}'
W2='"W2":{"dtype":"F32","shape":[2,1],"data_offsets":[24,32]}'
B2='"b2":{"dtype":"F32","shape":[1],"data_offsets":[32,36]}'

# refused NAME FILE MESSAGE WHAT: predict with FILE's weights exits 3 with MESSAGE.
refused() {
  run "$1" within 60 ./xor predict --weights "$2" 1 0
  expect_clean "$1" 3 "cannot load '$2': $3" "$4"
  [ -s "$1.out" ] && fail "$4: a prediction was printed"
}

# A good file of the same layout loads: the cases below differ from it in one thing only.
st good.st "{$W1,$B1,$W2,$B2}" 36
run good ./xor predict --weights good.st 1 0
expect_rc good 0 "a well-formed checkpoint loads"

case $CASE in
  header_beyond_file)
    st long.st "{$W1,$B1,$W2,$B2}" 36 1000000
    refused long long.st "header length 1000000 runs past the end of the file (" \
      "a header length beyond the file"
    { printf '\377\377\377\377\377\377\377\377'; printf '%s' "{$W1,$B1,$W2,$B2}"; } >huge.st
    refused huge huge.st "header length 18446744073709551615 runs past the end of the file" \
      "a header length of 2^64 - 1" ;;
  offsets_overlap)
    st overlap.st "{$W1,\"b1\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},$W2,$B2}" 36
    refused overlap overlap.st "tensors 'W1' and 'b1' overlap in the data section" \
      "overlapping data_offsets" ;;
  offsets_past_end)
    st past.st "{$W1,$B1,$W2,\"b2\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[36,40]}}" 36
    refused past past.st "tensor 'b2' data_offsets [36,40] lie outside the 36-byte data section" \
      "data_offsets past the end"
    st reversed.st "{$W1,$B1,$W2,\"b2\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[36,32]}}" 36
    refused reversed reversed.st \
      "tensor 'b2' data_offsets [36,32] lie outside the 36-byte data section" \
      "data_offsets that end before they begin"
    st big.st "{$W1,$B1,$W2,\"b2\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[32,9007199254740991]}}" 36
    refused big big.st \
      "tensor 'b2' data_offsets [32,9007199254740991] lie outside the 36-byte data section" \
      "data_offsets near 2^53" ;;
  dtype_mismatch)
    st f16.st "{$W1,$B1,$W2,\"b2\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[32,34]}}" 34
    refused f16 f16.st "tensor 'b2' has dtype F16, the model needs F32" "an F16 tensor" ;;
  shape_mismatch)
    st shape.st "{\"W1\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},$B1,$W2,$B2}" 36
    refused shape shape.st "tensor 'W1' has shape [4], the model has [2,2]" "a tensor of another shape"
    st rank.st "{\"W1\":{\"dtype\":\"F32\",\"shape\":[2,2,1,1,1,1,1,1,1],\"data_offsets\":[0,16]},$B1,$W2,$B2}" 36
    refused rank rank.st "tensor 'W1' has more than 8 dimensions" "a tensor of rank 9"
    st missing.st "{$W1,$B1,$W2}" 36
    refused missing missing.st "tensor 'b2' is missing" "a missing tensor"
    st extra.st "{$W1,$B1,$W2,$B2,\"W3\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[36,40]}}" 40
    refused extra extra.st "unknown tensor 'W3'" "a tensor the model does not have" ;;
  not_json)
    st text.st "not json at all" 36
    refused text text.st "header is not a JSON object" "a header that is not JSON"
    st broken.st "{$W1,$B1,$W2,$B2" 36
    refused broken broken.st "header is not valid JSON" "a header cut short"
    deep=$(awk 'BEGIN { for (i = 0; i < 100000; i++) printf "["; }')
    st deep.st "{\"__metadata__\":$deep}" 36
    refused deep deep.st "header is not valid JSON" "a header nested 100,000 deep" ;;
  empty)
    : >empty.st
    refused empty empty.st "file is too short for a safetensors header (0 bytes)" "an empty file"
    mkdir dir.st
    refused dir dir.st "is a directory" "a directory" ;;
  *) echo "checkpoint.sh: unknown case '$CASE'"; exit 2 ;;
esac
finish
