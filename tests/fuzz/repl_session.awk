# repl_session.awk: writes one random but plausible `nnc repl` session on standard output, and
# the model files it `:load`s (gen0.nn … gen2.nn) in the current directory. Variables (-v):
# seed (srand's seed: the same seed writes the same session) and n (the number of inputs: a
# definition, a train block, a command or an expression each count one).
#
# The session works on four model names; the generator remembers each one's input and output
# widths so that most train blocks, :predict rows and :loadw files fit and some deliberately do
# not. Definitions change widths and depth, add and remove dropout (also on a branch that reaches
# neither output nor loss), batch_norm and layer_norm; some have syntax or shape errors, which
# the REPL must report and survive. Inputs are plain text: no terminal, no signals.
function pick(n) { return int(rand() * n) }
function chance(p) { return rand() < p }
function act() { return acts[pick(nacts)] }

# A model block for `name`: input width wi, output width wo, 0-2 hidden dense layers.
function model(name, wi, wo,    s, prev, depth, d, w, bad) {
  bad = pick(20)                 # 0: a syntax error, 1: a shape error
  s = "model " name " {\n  input  x[" wi "]\n  target t[" wo "]\n"
  prev = "x"
  depth = pick(3)
  for (d = 0; d < depth; d++) {
    w = 1 + pick(6)
    s = s "  h" d " = dense(" prev ", " w ", activation = " act() ")\n"
    prev = "h" d
    if (chance(0.3)) { s = s "  n" d " = batch_norm(" prev ")\n"; prev = "n" d }
    else if (chance(0.2)) { s = s "  n" d " = layer_norm(" prev ")\n"; prev = "n" d }
    if (chance(0.4)) { s = s "  d" d " = dropout(" prev ", " pick(9) / 10 ")\n"; prev = "d" d }
  }
  if (chance(0.2))               # a branch nothing reads
    s = s "  u = dense(x, " 1 + pick(4) ")\n  du = dropout(relu(u), 0.5)\n"
  if (bad == 1)
    s = s "  y = dense(" prev ", " wo + 1 ")\n"
  else
    s = s "  y = dense(" prev ", " wo ")\n"
  s = s "  loss = mean((y - t)^2)\n  output y\n"
  if (bad == 0)
    s = s "  z = dense(y 2))\n"  # a syntax error inside balanced braces
  return s "}\n"
}

function row(k, sep,    s, i) {
  s = ""
  for (i = 0; i < k; i++) s = s (i ? sep : "") pick(5) - 2
  return s
}

function train_block(name, wi, wo,    s, r, rows) {
  rows = 2 + pick(5)
  s = "train " name " {\n  data      = table {"
  for (r = 0; r < rows; r++) s = s " " row(wi, " ") " -> " row(wo, " ") ";"
  s = s " }\n  optimizer = " opts[pick(nopts)] "\n  epochs    = " 1 + pick(8) "\n"
  s = s "  batch     = " 1 + pick(4) "\n"
  if (chance(0.3)) s = s "  seed      = " pick(100) "\n"
  if (chance(0.1)) s = s "  bogus     = 1\n"
  return s "}\n"
}

# Defines a model (and usually its train block); sometimes with widths it does not remember.
function define(k,    wi, wo, text) {
  wi = 1 + pick(4); wo = 1 + pick(3)
  text = model(names[k], wi, wo)
  if (chance(0.7)) text = text train_block(names[k], chance(0.9) ? wi : wi + 1, wo)
  in_w[k] = wi; out_w[k] = wo
  return text
}

function command(    k, c, name, f) {
  k = pick(4); name = names[k]
  c = pick(22)
  if (c < 4) return ":train " name " epochs=" 1 + pick(5) (chance(0.2) ? " --batch " pick(5) : "")
  if (c < 7) return ":predict " name " " row(chance(0.85) ? in_w[k] : in_w[k] + 1, " ")
  if (c < 8) return ":eval " name
  if (c < 9) return ":params " name
  if (c < 10) return ":explain " name
  if (c < 11) return ":graph " name
  if (c < 13) return ":save " name " w" pick(3) ".safetensors"
  if (c < 15) return ":loadw " name " w" pick(3) ".safetensors"
  if (c < 16) return ":load gen" pick(3) ".nn"
  if (c < 17) return ":reload"
  if (c < 18) return ":list"
  if (c < 19) return ":opt " pick(5)
  if (c < 20) return ":time"
  if (c < 21) return ":" (chance(0.5) ? "frobnicate" : "train --epochs")
  return ":load missing" pick(9) ".nn"
}

function expression(    c) {
  c = pick(5)
  if (c == 0) return "relu([0.4, 0.6] · [2, 3] + " pick(9) ")"
  if (c == 1) return "[[1, 2], [3, 4]] @ [[0, 1], [1, " pick(5) "]]"
  if (c == 2) return "[1, 2] + [1, 2, 3]"
  if (c == 3) return "softmax([1, " pick(4) ", 3])"
  return "sum([" row(1 + pick(4), ", ") "],\n    axis = 0)"   # continued on a second line
}

BEGIN {
  srand(seed)
  names[0] = "m1"; names[1] = "m2"; names[2] = "m3"; names[3] = "m4"
  for (k = 0; k < 4; k++) { in_w[k] = 2; out_w[k] = 1 }
  nacts = split("relu tanh sigmoid gelu identity silu", acts, " ")
  for (i = 0; i < nacts; i++) acts[i] = acts[i + 1]
  nopts = split("sgd(lr=0.05)|adam(lr=0.01)|sgd(lr=0.1,momentum=0.9)|rmsprop|adamw(lr=0.01)", opts, "|")
  for (i = 0; i < nopts; i++) opts[i] = opts[i + 1]
  for (f = 0; f < 3; f++) {      # the files :load reads; the session's widths are not theirs
    file = "gen" f ".nn"
    printf "%s", model(names[f], 2, 1) > file
    if (f != 1) printf "%s", train_block(names[f], 2, 1) > file
    close(file)
  }
  for (i = 0; i < n; i++) {
    c = pick(10)
    if (c < 3) printf "%s", define(pick(4))
    else if (c < 4) { k = pick(4); printf "%s", train_block(names[k], in_w[k], out_w[k]) }
    else if (c < 9) print command()
    else print expression()
    if (chance(0.02)) print "# comment " i
  }
  print ":quit"
}
