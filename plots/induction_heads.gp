# induction_heads.gp — rung 3b: every head's prefix-matching score against
# step (Olsson et al.: attention from a repeated token to the token after its
# earlier occurrence), one line per head "l<block>h<head>"; beside it, every
# head's previous-token score.
# usage: gnuplot -c plots/induction_heads.gp plots/induction_heads.tsv plots/induction_heads.png
# columns: step, then prefix_<head>..., copy_<head>..., prev_<head>... (one per head)
log = ARG1; out = ARG2
set terminal pngcairo size 1100,480 font ",11" noenhanced
set output out
set datafile separator "\t"
stats log using 1 nooutput
heads = (STATS_columns - 1) / 3
set multiplot layout 1,2 title "Rung 3b — the heads: prefix matching and previous-token attention against step"
set xlabel "step"
set yrange [0:1]
set grid
set key top left font ",10"
set ylabel "prefix-matching score"
plot for [i=2:1+heads] log using 1:i with linespoints pt 7 ps 0.5 lw 2 title columnheader(i)
set ylabel "previous-token score"
plot for [i=2+2*heads:1+3*heads] log using 1:i with linespoints pt 7 ps 0.5 lw 2 title columnheader(i)
unset multiplot
