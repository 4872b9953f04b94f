#!/bin/sh
# faults.sh NNC SOURCE_DIR: faults while saving and loading weights, each with a clear message,
# its documented exit code, and no partial or damaged file left behind: a full disk, a read-only
# directory (both in a private mount namespace, where root can mount a small tmpfs; skipped
# where unshare is not allowed), a weights path that is a directory, a dangling symlink or a
# FIFO, two trainings saving to the same path at once, and too little address space
# (ulimit -v) while compiling and while training.
NNC=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

compile_example compile xor xor
run good ./xor train --epochs 200 --save good.safetensors
expect_rc good 0 "./xor train --save good.safetensors"

# In a private mount namespace: a 64 KiB tmpfs at ./small, then the command. 77: not allowed.
in_small_fs() { # OPTIONS CMD...
  opts=$1; shift
  mkdir -p small
  unshare -m sh -c 'mount -t tmpfs -o "$0" none small || exit 77; exec "$@"' "$opts" "$@"
}
if unshare -m true 2>/dev/null && [ "$(id -u)" -eq 0 ]; then
  # ---- a full disk: exit 3, the path and the reason, no file ----
  run full in_small_fs size=64k sh -c 'cat /dev/zero >small/fill 2>/dev/null; ./xor train --epochs 3 --save small/w.safetensors; rc=$?; ls small; exit $rc'
  expect_rc full 3 "saving to a full disk"
  contains full.err "cannot save 'small/w.safetensors': No space left on device" "a full disk names the path and the reason"
  [ "$(grep -c safetensors full.out)" -eq 0 ] && pass "a full disk leaves no partial file" \
    || fail "a full disk left files behind: $(grep safetensors full.out)"
  # ---- a read-only directory ----
  run ro in_small_fs ro,size=64k ./xor train --epochs 3 --save small/w.safetensors
  expect_rc ro 3 "saving into a read-only directory"
  contains ro.err "cannot save 'small/w.safetensors'" "a read-only directory names the path"
  contains ro.err "Read-only file system" "and the reason"
else
  echo "note: no private mount namespace here: the full-disk and read-only cases are skipped"
fi

# ---- the weights path is a directory ----
mkdir adir
run dir ./xor train --epochs 3 --save adir
expect_rc dir 3 "--save DIRECTORY"
contains dir.err "cannot save 'adir'" "--save DIRECTORY names the path"
[ -d adir ] && [ -z "$(ls -A adir)" ] && pass "the directory is left as it was" \
  || fail "the directory was changed: $(ls -A adir)"
run dir_eval ./xor eval --weights adir
expect_rc dir_eval 3 "eval --weights DIRECTORY"
contains dir_eval.err "adir" "eval --weights DIRECTORY names the path"

# ---- a dangling symlink: saving replaces the link with the file, loading says what is missing ----
ln -s nowhere/x.safetensors dangling.safetensors
run dangling_eval ./xor eval --weights dangling.safetensors
expect_rc dangling_eval 3 "eval --weights DANGLING-SYMLINK"
contains dangling_eval.err "dangling.safetensors" "a dangling symlink is named"

# ---- a FIFO: never blocks; loading refuses a file that is not a regular file ----
mkfifo fifo.safetensors
run fifo_eval timeout 10 ./xor eval --weights fifo.safetensors
expect_rc fifo_eval 3 "eval --weights FIFO (no hang)"
contains fifo_eval.err "fifo.safetensors" "a FIFO is named"
run fifo_init timeout 10 ./xor train --epochs 1 --init fifo.safetensors --save x.safetensors
expect_rc fifo_init 3 "train --init FIFO (no hang)"

# ---- two trainings saving to the same path at once: the second is refused, the first saves ----
./xor train --epochs 100000000 --log-every 0 --save same.safetensors >first.out 2>first.err &
first=$!
sleep 0.5
run second ./xor train --epochs 3 --save same.safetensors
expect_rc second 3 "a second training saving to the same path"
contains second.err "cannot save 'same.safetensors': it is in use by another training run (pid $first)" \
  "the second training names the path and the run that holds it"
kill -TERM "$first"
wait "$first"
RC=$?
expect_rc first 130 "the first training, stopped by SIGTERM"
./xor eval --weights same.safetensors >same_eval.out 2>&1 && pass "the first training's checkpoint loads" \
  || fail "the first training's checkpoint does not load: $(cat same_eval.out)"
[ -e same.safetensors.lock ] && fail "the lock file was left behind" || pass "no lock file is left"
run third ./xor train --epochs 3 --save same.safetensors
expect_rc third 0 "a training after the first ended saves to the path"

# ---- too little address space: exit 1 "out of memory", no crash, nothing written ----
if sanitized; then
  echo "note: built with the sanitizers, which cannot run under ulimit -v: the address-space cases are skipped"
  finish
fi
# Below some limit nnc cannot even start: the loader cannot map its libraries, or LLVM's static
# constructors fail before main (nnc --version fails too). From there up, every limit until one
# that is enough must give 0 or a clean "out of memory", and leave no file behind.
limit=150000 checked=0
while [ "$limit" -le 600000 ]; do
  rm -f lim_xor
  if ! sh -c 'ulimit -v "$0"; exec "$1" --version' "$limit" "$NNC" >/dev/null 2>&1; then
    limit=$((limit + 2000)); continue
  fi
  run oom_compile sh -c 'ulimit -v "$0"; exec "$1" "$2" -o lim_xor' "$limit" "$NNC" "$SRC/examples/xor.nn"
  checked=$((checked + 1))
  [ "$RC" -eq 0 ] && break
  if [ "$RC" -ne 1 ] || ! grep -q "out of memory" oom_compile.err; then
    fail "nnc under ulimit -v $limit: exit $RC, expected 1 and 'out of memory'"; show oom_compile; break
  fi
  [ -e lim_xor ] && { fail "nnc out of memory under ulimit -v $limit left lim_xor"; break; }
  limit=$((limit + 2000))
done
[ "$RC" -eq 0 ] && pass "nnc under ulimit -v: $checked limits from where it starts to where it compiles, each exit 0 or a clean out of memory" \
  || fail "nnc did not compile under ulimit -v up to $limit"
cat >big.nn <<'EOF'
model big {
  input  x[2]
  target y[1]
  h      = dense(x, 4096, relu)
  h2     = dense(h, 4096, relu)
  out    = dense(h2, 1)
  loss   = mean((out - y)^2)
  output out
}

train big {
  data      = table { 0 0 -> 0;  0 1 -> 1;  1 0 -> 1;  1 1 -> 0 }
  optimizer = adam(lr = 0.001)
  epochs    = 2
  batch     = 4
}
EOF
run big_compile "$NNC" big.nn -o big
expect_rc big_compile 0 "nnc big.nn"
run oom_train sh -c 'ulimit -v 150000; exec ./big train --save big.safetensors'
expect_rc oom_train 1 "training a 64 MB model (and its Adam state) under ulimit -v 150000"
contains oom_train.err "out of memory" "training under ulimit -v says out of memory"
[ -e big.safetensors ] && fail "training out of memory wrote a weights file" \
  || pass "training out of memory writes no weights file"
# Loading a checkpoint that fits on disk but not beside the workspace: every limit gives 0 or
# exit 1 "out of memory" (never 3, which would blame the file), from where eval cannot even start
# to where it loads.
run big_train ./big train --save big.safetensors
expect_rc big_train 0 "training the 64 MB model without a limit"
limit=100000 loaded=0
while [ "$limit" -le 1200000 ] && [ "$loaded" -eq 0 ]; do
  run oom_eval sh -c 'ulimit -v "$0"; exec ./big eval --weights big.safetensors' "$limit"
  if [ "$RC" -eq 0 ]; then loaded=1
  elif [ "$RC" -ne 1 ] || ! grep -q "out of memory" oom_eval.err; then
    fail "eval under ulimit -v $limit: exit $RC, expected 0 or 1 and 'out of memory'"; show oom_eval; break
  fi
  limit=$((limit + 20000))
done
[ "$loaded" -eq 1 ] && pass "eval of a 64 MB checkpoint under ulimit -v: exit 1 'out of memory' until it fits, then 0 (at $limit KiB)" \
  || fail "eval never loaded the checkpoint under ulimit -v up to $limit"
finish
