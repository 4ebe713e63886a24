# induction.gp — rung 3b, the phase change: loss on the held-out documents'
# fresh half (a random block: unpredictable) and repeated half (the same block
# again: free for an induction head) against step, with the pairing accuracy
# (in-context learning of pairings defined only in the prompt) on a second axis.
# usage: gnuplot -c plots/induction.gp plots/induction.tsv plots/induction.png
# columns: step train_loss train_loss_ema lr loss_fresh loss_repeated acc_k1 acc_k2 acc_k4 acc_k8
#          best_prefix best_copy
log = ARG1; out = ARG2
set terminal pngcairo size 900,600 font ",11"
set output out
set datafile separator "\t"
set datafile missing "-"
set title "Rung 3b — an induction head forms: held-out loss and in-context pairing accuracy"
set xlabel "step"
set ylabel "held-out loss (nats per token)"
set y2label "pairing accuracy"
set yrange [0:*]
set y2range [0:1]
set ytics nomirror
set y2tics 0.2
set grid
set key below maxrows 3 font ",10"
plot log using 1:5 with linespoints pt 7 ps 0.6 lw 2 lc rgb "#2040c0" title "loss, fresh half (random block)", \
     log using 1:6 with linespoints pt 7 ps 0.6 lw 2 lc rgb "#d02020" title "loss, repeated half (the block again)", \
     log using 1:3 with lines lw 1 lc rgb "#a0a0a0" title "training loss (EMA, mixed corpus)", \
     log using 1:10 axes x1y2 with linespoints pt 5 ps 0.6 lw 2 lc rgb "#208020" title "pairing accuracy, k = 8 (right)", \
     log using 1:8 axes x1y2 with lines dt 2 lw 2 lc rgb "#208020" title "pairing accuracy, k = 2 (right)", \
     1.0/12 axes x1y2 with lines dt 3 lc rgb "#808080" title "chance (1/12)"
