# gpt3_fewshot.gp — GPT-3 few-shot prompting: accuracy against the number of
# solved examples k in the prompt, one line per task (after GPT-3's Figure 1.2),
# each with its chance level dashed; for pairing also 1/k, what copying the most
# recent shot's value would score.
# usage: gnuplot -c plots/gpt3_fewshot.gp plots/gpt3_fewshot.tsv plots/gpt3_fewshot.png
# columns: task k evals correct accuracy chance shots_used picks_last_shot
log = ARG1; out = ARG2
set terminal pngcairo size 900,540 font ",11"
set output out
set datafile separator "\t"
set datafile missing "-"
set title "Rung 3 — GPT-3 few-shot prompting: accuracy against k (no gradient step)"
set xlabel "k, solved examples in the prompt"
set ylabel "test accuracy"
set yrange [0:1.1]
set grid
set key top right font ",10"
# k = 0, 1, 2, 4, 8 spread evenly, as GPT-3 plots shots on a log axis
x(k) = log(k + 1) / log(2)
set xtics ("0" x(0), "1" x(1), "2" x(2), "4" x(4), "8" x(8))
set xrange [-0.1:3.3]
acc(task) = (strcol(1) eq task) ? column(5) : NaN
chance(task) = (strcol(1) eq task) ? column(6) : NaN
recency(task) = (strcol(1) eq task && column(2) > 0) ? 1.0 / column(2) : NaN
plot log using (x($2)):(acc("colour")) with linespoints pt 7 lw 2 lc rgb "#2040c0" title "colour (object -> colour, ranked)", \
     log using (x($2)):(acc("opposite")) with linespoints pt 5 lw 2 lc rgb "#e08000" title "opposite (word -> opposite, ranked)", \
     log using (x($2)):(acc("pairing")) with linespoints pt 9 lw 2 lc rgb "#d02020" title "pairing (defined only in the prompt, ranked)", \
     log using (x($2)):(acc("arith")) with linespoints pt 11 lw 2 lc rgb "#208020" title "arith (two-digit sums, generated)", \
     log using (x($2)):(chance("colour")) with lines dt 2 lc rgb "#2040c0" title "chance, colour and opposite (1/8)", \
     log using (x($2)):(chance("pairing")) with lines dt 2 lc rgb "#d02020" title "chance, pairing (1/12)", \
     log using (x($2)):(recency("pairing")) with lines dt 3 lw 2 lc rgb "#808080" title "1/k: copying the most recent value"
