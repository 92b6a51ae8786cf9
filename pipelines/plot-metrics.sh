#!/usr/bin/env bash
# Plot an lstmtrain metrics-file (CSV) as a PNG of loss and accuracy curves.
# Usage: pipelines/plot-metrics.sh METRICS.csv OUT.png
set -euo pipefail
csv=${1:?usage: $0 METRICS.csv OUT.png}
png=${2:?usage: $0 METRICS.csv OUT.png}
command -v gnuplot >/dev/null || { echo "gnuplot is missing: apt-get install gnuplot-nox" >&2; exit 1; }
# Validation curves only when the run had a validation split (columns 5, 6 filled).
if awk -F, 'NR > 1 && $5 != "" {found = 1} END {exit !found}' "$csv"; then
  val_loss=", '' using (\$2/1000):5 with linespoints pt 7 title 'validation'"
  val_acc=", '' using (\$2/1000):6 with linespoints pt 7 title 'validation'"
else
  val_loss='' val_acc=''
fi
gnuplot <<GP
set datafile separator ','
set key autotitle columnhead
set terminal pngcairo size 1000,420 noenhanced
set output '$png'
set multiplot layout 1,2 title 'lstmtrain: $csv'
set xlabel 'samples seen (thousands)'
set key bottom right
set title 'loss'
plot '$csv' using (\$2/1000):3 with lines lw 2 title 'train (running)' $val_loss
set title 'accuracy'
set yrange [0:1]
plot '$csv' using (\$2/1000):4 with lines lw 2 title 'train (running)' $val_acc
unset multiplot
GP
echo "wrote $png"
