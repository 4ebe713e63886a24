# scaling_params.gp — loss against size (after Kaplan et al. 2020, Figure 1
# right): the validation loss of every size of the family, all trained on the
# same tokens, against non-embedding parameters N on log-log axes, with the
# least-squares fit L(N) = (N_c/N)^alpha + L_inf that scaling prints, and L_inf
# (when there is a fit: the log writes 0 for its parameters when there is none).
# usage: gnuplot -c plots/scaling_params.gp plots/scaling_params.tsv plots/scaling_params.png
# columns: L C NH n_params n_total tokens flops val_loss fit_loss seconds alpha n_c l_inf
log = ARG1; out = ARG2
set terminal pngcairo size 900,540 font ",11"
set output out
set datafile separator "\t"
stats log using 11 nooutput; alpha = STATS_max
stats log using 12 nooutput; nc = STATS_max
stats log using 13 nooutput; linf = STATS_max
stats log using 4 nooutput; nmin = STATS_min; nmax = STATS_max
stats log using 6 nooutput; tokens = STATS_max
set title sprintf("Rung 3c — loss against size, every model on the same %.2fM tokens", tokens / 1e6)
set xlabel "non-embedding parameters N (log)"
set ylabel "validation loss (nats per token, log)"
set logscale xy
stats log using 8 nooutput; set yrange [(linf > 0 && linf < STATS_min ? linf : STATS_min) / 1.08 : STATS_max * 1.12]
set ytics ("1.0" 1, "1.1" 1.1, "1.2" 1.2, "1.4" 1.4, "1.6" 1.6, "1.8" 1.8, "2" 2, "2.5" 2.5, "3" 3, "4" 4, "5" 5, "6" 6, "8" 8)
set xrange [nmin / 2 : nmax * 2]
set grid
set key top right font ",10"
f(x) = (nc / x) ** alpha + linf
set samples 200
plot log using 4:8 with points pt 7 ps 1.6 lc rgb "#2040c0" title "a size of the family, at the end of its run", \
     log using 4:8:(sprintf("L%d C%d", $1, $2)) with labels offset 0,1.2 font ",9" notitle, \
     (nc > 0 ? f(x) : NaN) with lines lw 2 lc rgb "#d02020" title sprintf("fit (N_c/N)^{%.3f} + %.3f", alpha, linf), \
     (nc > 0 && linf > 0 ? linf : NaN) with lines dt 2 lw 2 lc rgb "#808080" title "L_{inf}, the fitted floor"
