# gpt1_finetune.gp — GPT-1 fine-tuning: test accuracy against step for the main
# run and the paper's two ablations (Table 5): no pre-training, no auxiliary LM loss.
# usage: gnuplot -c plots/gpt1_finetune.gp plots/gpt1_finetune.tsv plots/gpt1_finetune.png
# columns: run step l3 l2_classifier l1_lm batch_acc test_acc
log = ARG1; out = ARG2
set terminal pngcairo size 900,540 font ",11"
set output out
set datafile separator "\t"
set datafile missing "-"
set title "Rung 1 — GPT-1 fine-tuning a linear head: test accuracy"
set xlabel "fine-tuning step"
set ylabel "test accuracy"
set yrange [0.3:1.02]
set grid
set key bottom right
acc(run) = (strcol(1) eq run) ? column(7) : NaN
plot log using 2:(acc("pretrained")) with linespoints pt 7 lw 2 lc rgb "#2040c0" title "pre-trained, L3 = L2 + 0.5 L1", \
     log using 2:(acc("pretrained_lambda0")) with linespoints pt 5 lw 2 lc rgb "#e08000" title "pre-trained, lambda = 0 (no aux LM loss)", \
     log using 2:(acc("random_init")) with linespoints pt 9 lw 2 lc rgb "#d02020" title "random init (no pre-training)", \
     0.5 with lines dt 2 lc rgb "#808080" title "chance"
