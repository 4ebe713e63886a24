# scaling_accuracy.gp — what the questions say as the model grows (after
# GPT-2's Figure 1 and GPT-3's Figure 1.2): zero-shot accuracy (rung 2's
# sentiment-with-hint and colour questions) and few-shot accuracy on rung 3's
# colour task at k = 0 and k = 8 shots, against non-embedding parameters.
# Does the k = 8 line pull away from k = 0 as the model grows?
# usage: gnuplot -c plots/scaling_accuracy.gp plots/scaling_accuracy.tsv plots/scaling_accuracy.png
# columns: L C n_params zs_sentiment zs_colour fs_k0 fs_k8 fs_gain
log = ARG1; out = ARG2
set terminal pngcairo size 900,600 font ",11"
set output out
set datafile separator "\t"
stats log using 3 nooutput; nmin = STATS_min; nmax = STATS_max
set title "Rung 3c — zero- and few-shot accuracy against size"
set xlabel "non-embedding parameters N (log)"
set ylabel "accuracy"
set logscale x
set xrange [nmin / 2 : nmax * 2]
set yrange [0:1.05]
set grid
set key below maxrows 3 font ",10"
plot log using 3:4 with linespoints pt 5 lw 2 lc rgb "#e08000" title "zero-shot: sentiment with the hint (rung 2)", \
     log using 3:5 with linespoints pt 9 lw 2 lc rgb "#208020" title "zero-shot: colour, as a sentence (rung 2)", \
     log using 3:6 with linespoints pt 6 lw 2 lc rgb "#2040c0" title "few-shot colour, k = 0 (rung 3)", \
     log using 3:7 with linespoints pt 7 lw 3 lc rgb "#d02020" title "few-shot colour, k = 8 (rung 3)", \
     0.5 with lines dt 2 lc rgb "#e08000" title "chance, sentiment (1/2)", \
     0.125 with lines dt 2 lc rgb "#2040c0" title "chance, colour (1/8)"
