# Shared by the benchmark scripts that print side-by-side rows (sourced, not run):
# time-to-accuracy.sh and vs-fasttext.sh.
# rows: the table printed at the end; row_width: the width of the name column.
rows=()
row_width=${row_width:-46}

# name, "wall cpu", accuracy: appends a row to the table and prints it at once.
add_row () {
  local wall cpu
  read -r wall cpu <<<"$2"
  rows+=("$(printf '%-*s %7.1f s wall %7.1f s cpu   %s' "$row_width" "$1" "$wall" "$cpu" "$3")")
  echo "${rows[-1]}"
}

# Runs a command (output to $log), prints "wall cpu" seconds (CPU: user + system). With
# SEQNN_TIMEOUT set, a command still running then is stopped and timed returns 1; a
# command that fails ends the benchmark with its log.
TIMEFORMAT='%R %U %S'
timed () {
  local log=$1; shift
  local t rc=0
  t=$( { time timeout "${SEQNN_TIMEOUT:-0}" "$@" >"$log" 2>&1; } 2>&1 ) || rc=$?
  if ((rc == 124)); then
    return 1
  elif ((rc != 0)); then
    echo "bench: failed: $* (see below)" >&2; cat "$log" >&2; exit 1
  fi
  awk '{ printf "%s %.2f\n", $1, $2 + $3 }' <<<"$t"
}
