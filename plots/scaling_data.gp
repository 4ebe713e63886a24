# scaling_data.gp — loss against data (after Kaplan et al. 2020, Figure 1
# middle): one model trained on 1/8, 1/4, 1/2 and all of the family's token
# budget, each with its cosine schedule ending at its own budget, and the fit
# L(D) = (D_c/D)^beta + L_inf when one exists.
# usage: gnuplot -c plots/scaling_data.gp plots/scaling_data.tsv plots/scaling_data.png
# columns: L C fraction tokens flops val_loss fit_loss seconds beta d_c l_inf
log = ARG1; out = ARG2
set terminal pngcairo size 900,540 font ",11"
set output out
set datafile separator "\t"
stats log using 9 nooutput; beta = STATS_max
stats log using 10 nooutput; dc = STATS_max
stats log using 11 nooutput; linf = STATS_max
stats log using 1 nooutput; L = STATS_max
stats log using 2 nooutput; C = STATS_max
stats log using 4 nooutput; dmin = STATS_min; dmax = STATS_max
set title sprintf("Rung 3c — loss against tokens, L%d C%d (each run's schedule ends at its budget)", L, C)
set xlabel "training tokens D (log)"
set ylabel "validation loss (nats per token, log)"
set logscale xy
stats log using 6 nooutput; set yrange [STATS_min / 1.08 : STATS_max * 1.12]
set ytics ("1.0" 1, "1.1" 1.1, "1.2" 1.2, "1.4" 1.4, "1.6" 1.6, "1.8" 1.8, "2" 2, "2.5" 2.5, "3" 3, "4" 4, "5" 5, "6" 6, "8" 8)
set xrange [dmin / 1.5 : dmax * 1.5]
set grid
set key top right font ",10"
f(x) = (dc / x) ** beta + linf
set samples 200
plot log using 4:6 with linespoints pt 7 ps 1.6 lw 2 lc rgb "#2040c0" title "validation loss at the end of each run", \
     (dc > 0 ? f(x) : NaN) with lines lw 2 dt 2 lc rgb "#d02020" title sprintf("fit (D_c/D)^{%.3f} + %.3f", beta, linf)
