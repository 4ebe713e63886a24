# scaling_compute.gp — loss against compute (after Kaplan et al. 2020,
# Figure 1 left, and Hoffmann et al. 2022, Figure 2): every run's validation
# curve against its training compute C = 6 N D, and the lower envelope, the
# lowest loss any run reached within that compute (the compute-optimal frontier).
# usage: gnuplot -c plots/scaling_compute.gp plots/scaling_compute.tsv plots/scaling_compute.png
# columns: run L C family n_params tokens flops val_loss frontier_loss
log = ARG1; out = ARG2
set terminal pngcairo size 900,540 font ",11"
set output out
set datafile separator "\t"
stats log using 1 nooutput; nruns = int(STATS_max)
set title "Rung 3c — loss against compute: every run, and the frontier"
set xlabel "training compute 6 N D (FLOPs, log; N non-embedding)"
set ylabel "validation loss (nats per token, log)"
set logscale xy
set grid
set key bottom left font ",9"
run(i) = (column(1) == i) ? column(8) : NaN
# each run's title from its rows: its shape, its tokens, and whether it is a
# size of the family (solid, blue to dark by size) or a data-sweep run (grey)
array names[nruns]; array fam[nruns]
do for [i=1:nruns] {
    stats log using ($1 == i ? $2 : NaN) nooutput; L = int(STATS_max)
    stats log using ($1 == i ? $3 : NaN) nooutput; C = int(STATS_max)
    stats log using ($1 == i ? $4 : NaN) nooutput; fam[i] = int(STATS_max)
    stats log using ($1 == i ? $6 : NaN) nooutput; D = STATS_max
    names[i] = fam[i] ? sprintf("L%d C%d", L, C) : sprintf("L%d C%d on %.2g tokens", L, C, D)
}
nfam = 0; do for [i=1:nruns] { nfam = nfam + fam[i] }
colour(i) = fam[i] ? hsv2rgb(0.62, 0.35 + 0.65 * (i - 1.0) / (nfam > 1 ? nfam - 1 : 1), 1.0 - 0.6 * (i - 1.0) / (nfam > 1 ? nfam - 1 : 1)) : 0x909090
stats log using 8 nooutput; set yrange [STATS_min / 1.08 : STATS_max * 1.12]
set ytics ("1.0" 1, "1.1" 1.1, "1.2" 1.2, "1.4" 1.4, "1.6" 1.6, "1.8" 1.8, "2" 2, "2.5" 2.5, "3" 3, "4" 4, "5" 5, "6" 6, "8" 8)
plot for [i=1:nruns] log using 7:(fam[i] ? run(i) : NaN) with linespoints pt 7 ps 0.6 lw 2 \
         lc rgb sprintf("#%06x", colour(i)) title (fam[i] ? names[i] : ""), \
     for [i=1:nruns] log using 7:(fam[i] ? NaN : run(i)) with linespoints pt 6 ps 0.6 lw 1 dt 2 \
         lc rgb "#909090" title (fam[i] ? "" : names[i]), \
     log using 7:9 smooth unique with lines lw 3 lc rgb "#d02020" title "frontier: the lowest loss within this compute"
