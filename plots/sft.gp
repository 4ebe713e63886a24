# sft.gp — InstructGPT step 1, supervised fine-tuning: the answer loss (train and
# held-out) and the hidden rule's score of greedy answers against step.
# usage: gnuplot -c plots/sft.gp plots/sft.tsv plots/sft.png
# columns: step train_loss train_loss_ema test_loss train_score test_score
#          test_colour test_place test_sum test_unknown lr
log = ARG1; out = ARG2
set terminal pngcairo size 1000,800 font ",11"
set output out
set datafile separator "\t"
set datafile missing "-"
set multiplot layout 2,1 title "Rung 4 — SFT: fine-tuning the pretrained model on demonstrations (loss on the answer only)"
set grid
set key top right
set xlabel "step"
set ylabel "loss (nats per answer token)"
set yrange [0:*]
plot log using 1:2 with lines lc rgb "#c0c0e0" title "train loss (raw)", \
     log using 1:3 with lines lw 2 lc rgb "#2040c0" title "train loss (EMA 0.9)", \
     log using 1:4 with linespoints pt 7 ps 0.8 lw 2 lc rgb "#d02020" title "held-out answer loss (never-demonstrated prompts)"
set ylabel "hidden-rule score of greedy answers"
set yrange [-1.6:1.6]
set key bottom right
plot log using 1:5 with linespoints pt 5 ps 0.7 lw 2 lc rgb "#2040c0" title "demonstrated prompts", \
     log using 1:6 with linespoints pt 7 ps 0.9 lw 3 lc rgb "#d02020" title "held-out prompts (all)", \
     log using 1:7 with linespoints pt 1 ps 0.6 dt 3 lc rgb "#e08000" title "held-out: colour", \
     log using 1:8 with linespoints pt 2 ps 0.6 dt 3 lc rgb "#208020" title "held-out: place", \
     log using 1:9 with linespoints pt 4 ps 0.6 dt 3 lc rgb "#808080" title "held-out: sum", \
     log using 1:10 with linespoints pt 6 ps 0.6 dt 3 lc rgb "#a020a0" title "held-out: unknown (should refuse)"
unset multiplot
