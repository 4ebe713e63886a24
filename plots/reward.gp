# reward.gp — InstructGPT step 2, the reward model: the ranking loss and the
# pairwise accuracy (batch and held-out prompts) against step.
# usage: gnuplot -c plots/reward.gp plots/reward.tsv plots/reward.png
# columns: step epoch loss loss_ema batch_acc test_loss test_acc test_top1 lr
log = ARG1; out = ARG2
set terminal pngcairo size 1000,800 font ",11"
set output out
set datafile separator "\t"
set datafile missing "-"
ln2 = 0.693147
set multiplot layout 2,1 title "Rung 5 — reward model: -1/C(K,2) sum log sigma(r_w - r_l), all pairs of a prompt in one batch element"
set grid
set key top right
set xlabel "step"
set ylabel "ranking loss"
set yrange [0:*]
plot log using 1:3 with lines lc rgb "#c0c0e0" title "train loss (raw)", \
     log using 1:4 with lines lw 2 lc rgb "#2040c0" title "train loss (EMA 0.9)", \
     log using 1:6 with linespoints pt 7 ps 0.8 lw 2 lc rgb "#d02020" title "held-out loss (prompts never compared)", \
     ln2 with lines dt 2 lc rgb "#808080" title "log 2 (every reward tied)", \
     ln2 * 3 / 6 with lines dt 3 lc rgb "#808080" title "(3/6) log 2: three of six pairs tied"
set ylabel "fraction"
set yrange [0:1.02]
set key bottom right
plot log using 1:5 with lines lc rgb "#c0c0e0" title "pair accuracy, training batch", \
     log using 1:7 with linespoints pt 7 ps 0.9 lw 3 lc rgb "#d02020" title "pair accuracy, held-out prompts", \
     log using 1:8 with linespoints pt 5 ps 0.7 lw 2 lc rgb "#e08000" title "top-1 agreement with the rule, held-out", \
     0.5 with lines dt 2 lc rgb "#808080" title "chance (pairs)", \
     0.25 with lines dt 3 lc rgb "#808080" title "chance (top-1 of 4)"
unset multiplot
