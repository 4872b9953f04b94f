#!/bin/sh
# No source of the product reaches another folder by a relative path: a stage gets another
# stage's headers only by linking its library (compiler/CMakeLists.txt).
cd "$1" || exit 2
if grep -rnE '#[[:space:]]*include[[:space:]]*"[^"]*\.\./' base lang compiler runtime; then
  echo "no_parent_includes: the includes above reach up a folder; link the stage's library" >&2
  exit 1
fi
echo "no include reaches up a folder"
