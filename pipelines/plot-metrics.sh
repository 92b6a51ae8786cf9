#!/usr/bin/env bash
# Plot an lstmtrain metrics-file (CSV) as a PNG of loss and accuracy curves.
# Usage: pipelines/plot-metrics.sh METRICS.csv OUT.png
set -euo pipefail
csv=${1:?usage: $0 METRICS.csv OUT.png}
png=${2:?usage: $0 METRICS.csv OUT.png}
command -v gnuplot >/dev/null || { echo "gnuplot is missing: apt-get install gnuplot-nox" >&2; exit 1; }
gnuplot <<GP
set datafile separator ','
set key autotitle columnhead
set terminal pngcairo size 1000,420 noenhanced
set output '$png'
set multiplot layout 1,2 title 'lstmtrain: $csv'
set xlabel 'samples seen'
set title 'loss'
plot '$csv' using 2:3 with lines lw 2 title 'train (running)', \
     '' using 2:(\$5 eq '' ? 1/0 : \$5) with linespoints pt 7 title 'validation'
set title 'accuracy'
set yrange [0:1]
plot '$csv' using 2:4 with lines lw 2 title 'train (running)', \
     '' using 2:(\$6 eq '' ? 1/0 : \$6) with linespoints pt 7 title 'validation'
unset multiplot
GP
echo "wrote $png"
