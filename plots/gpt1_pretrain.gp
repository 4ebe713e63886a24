# gpt1_pretrain.gp — GPT-1 pre-training: train and validation loss against step,
# with the unigram entropy of the corpus (the best context-free loss) as a line.
# usage: gnuplot -c plots/gpt1_pretrain.gp plots/gpt1_pretrain.tsv plots/gpt1_pretrain.png [DATA]
# DATA names the text in the title; without it the ladder's own log says "the
# toy world" and any other log is named by its file (your own text, README).
# columns: step train_loss train_loss_ema val_loss lr tokens_per_s unigram_entropy
log = ARG1; out = ARG2
data = ARGC >= 3 ? ARG3 : (log eq "plots/gpt1_pretrain.tsv" ? "the toy world" : log)
set terminal pngcairo size 900,540 font ",11"
set output out
set datafile separator "\t"
set datafile missing "-"
set key autotitle columnhead top right
set title "Rung 1 — GPT-1 pre-training on ".data
set xlabel "step"
set ylabel "loss (nats per token)"
set grid
set yrange [0:*]
plot log using 1:2 with lines lc rgb "#c0c0e0" title "train loss (raw)", \
     log using 1:3 with lines lw 2 lc rgb "#2040c0" title "train loss (EMA 0.95)", \
     log using 1:4 with linespoints pt 7 ps 0.8 lw 2 lc rgb "#d02020" title "validation loss", \
     log using 1:7 with lines dt 2 lw 2 lc rgb "#208020" title "unigram entropy (no context)"
