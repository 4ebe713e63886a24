# gpt3_cot.gp — chain-of-thought prompting (Wei et al. 2022) on two-digit sums:
# accuracy of the final number against k, with k direct-answer shots
# ("53 + 38 = 91") and k worked-step shots ("53 + 38 = ? 3 + 8 + 0 = 11 , ...,
# so 91"), the same rows drawn for both; dotted, how often every worked step
# was exactly right.
# usage: gnuplot -c plots/gpt3_cot.gp plots/gpt3_cot.tsv plots/gpt3_cot.png
# columns: task prompt k evals correct accuracy answered steps_right shots_used
log = ARG1; out = ARG2
set terminal pngcairo size 900,540 font ",11"
set output out
set datafile separator "\t"
set datafile missing "-"
set title "Rung 3 — chain of thought vs direct answers on two-digit sums (greedy)"
set xlabel "k, solved examples in the prompt"
set ylabel "accuracy of the final number"
set yrange [0:*]
# room around the points, and above them for the key
set autoscale xfix
set offsets 0.2, 0.2, graph 0.35, 0
set xtics 1
set grid
set key top left
acc(style) = (strcol(2) eq style) ? column(6) : NaN
steps(style) = (strcol(2) eq style) ? column(8) : NaN
plot log using 3:(acc("direct")) with linespoints pt 7 lw 2 lc rgb "#d02020" title "direct shots: 53 + 38 = 91", \
     log using 3:(acc("worked")) with linespoints pt 5 lw 2 lc rgb "#2040c0" title "worked shots: 53 + 38 = ? 3 + 8 + 0 = 11 , ... , so 91", \
     log using 3:(steps("worked")) with linespoints dt 3 pt 4 lc rgb "#2040c0" title "worked: every step exactly right"
