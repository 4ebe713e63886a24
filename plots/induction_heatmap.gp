# induction_heatmap.gp — rung 3b: where two heads look on a held-out document
# (a random block, then the same block). Row = the query position, column =
# the position it attends to. The previous-token head lights the diagonal just
# below the main one; the induction head, in the repeated half, lights the
# stripe one position after the earlier copy of the current token.
# usage: gnuplot -c plots/induction_heatmap.gp plots/induction_heatmap.tsv plots/induction_heatmap.png
# blocks (gnuplot's index 0 and 1): "# title", "# tokens: ...", then query key weight
log = ARG1; out = ARG2
set terminal pngcairo size 1100,520 font ",11"
set output out
set datafile separator "\t"
set key off
set palette defined (0 "white", 0.3 "#f0a040", 1 "#800000")
set cbrange [0:1]
set xlabel "key position (attended to)"
set ylabel "query position"
stats log index 0 using 1 skip 1 nooutput
n = STATS_max + 1
set xrange [-0.5:n - 0.5]
set yrange [n - 0.5:-0.5]
set size ratio -1
set multiplot layout 1,2 title "Rung 3b — attention on a repeated random block (first held-out document)"
set title "induction head (highest prefix-matching score)"
plot log index 0 using 2:1:3 skip 1 with image
set title "previous-token head"
plot log index 1 using 2:1:3 skip 1 with image
unset multiplot
