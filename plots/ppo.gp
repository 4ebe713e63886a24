# ppo.gp — InstructGPT step 3, PPO against the reward model: for every run in
# the log (the KL-penalised run and the beta = 0 run), the reward model's
# score, the hidden rule's score and the KL to the SFT model against
# iteration, then what the policy's distribution does (entropy, the reward
# hack's rate) and how the update behaves (clip fraction, value loss).
# usage: gnuplot -c plots/ppo.gp plots/ppo.tsv plots/ppo.png
# columns: 1 run 2 iter 3 beta 4 rm_score 5 rule_score 6 kl_k1 7 kl_k3 8 entropy
#          9 resp_len 10 ended 11 where_colour 12 pg_loss 13 vf_loss 14 clipfrac
#          15 approx_kl 16 greedy_ppo 17 greedy_heldout 18 rm_ema 19 rule_ema
#          20 kl_ema 21 seconds
log = ARG1; out = ARG2
# the run labels, in the order they appear in the log
runs = system("awk -F'\t' 'NR > 1 && !seen[$1]++ { printf \"%s \", $1 }' " . log)
set terminal pngcairo size 1200,1100 font ",10"
set output out
set datafile separator "\t"
set datafile missing "-"
set grid
set key top left font ",9"
set xlabel "PPO iteration"
col(r, c) = (strcol(1) eq r) ? column(c) : NaN
colour(i) = i == 1 ? "#2040c0" : i == 2 ? "#d02020" : i == 3 ? "#208020" : "#a020a0"
set multiplot layout 3,2 title "Rung 6 — PPO against the reward model: with the KL penalty, and without it (beta = 0)"

set title "reward model's score of the sampled answers (the proxy PPO maximises)"
set ylabel "RM score (mean 0, std 1 on SFT answers)"
plot for [i = 1:words(runs)] log using 2:(col(word(runs, i), 4)) with lines lw 1 lc rgb colour(i) dt 3 notitle, \
     for [i = 1:words(runs)] log using 2:(col(word(runs, i), 18)) with lines lw 2.5 lc rgb colour(i) title word(runs, i)." (EMA 0.9)"

set title "hidden rule's score (the true judgement, never seen by the policy)"
set ylabel "score\\_response, in [-1.5, +1.5]"
set yrange [0:1.6]
set key bottom right
plot for [i = 1:words(runs)] log using 2:(col(word(runs, i), 19)) with lines lw 2.5 lc rgb colour(i) title word(runs, i)." sampled (EMA)", \
     for [i = 1:words(runs)] log using 2:(col(word(runs, i), 16)) with points pt 7 ps 0.8 lc rgb colour(i) title word(runs, i)." greedy, ppo prompts", \
     for [i = 1:words(runs)] log using 2:(col(word(runs, i), 17)) with points pt 6 ps 0.8 lc rgb colour(i) title word(runs, i)." greedy, held-out prompts"
set yrange [*:*]
set key top left

set title "KL(policy || SFT) per response"
set ylabel "nats"
plot for [i = 1:words(runs)] log using 2:(col(word(runs, i), 6)) with lines lw 1.5 lc rgb colour(i) title word(runs, i)." k1", \
     for [i = 1:words(runs)] log using 2:(col(word(runs, i), 7)) with lines lw 1 dt 2 lc rgb colour(i) title word(runs, i)." k3"

set title "where-questions answered with a colour (the hack), sampled"
set ylabel "fraction of place questions"
set yrange [0:1]
plot for [i = 1:words(runs)] log using 2:(col(word(runs, i), 11)) with lines lw 2 lc rgb colour(i) title word(runs, i)
set yrange [*:*]

set title "policy entropy per response token"
set ylabel "nats"
plot for [i = 1:words(runs)] log using 2:(col(word(runs, i), 8)) with lines lw 1.5 lc rgb colour(i) title word(runs, i)

set title "the update: clip fraction (solid) and value loss (dashed, right axis)"
set ylabel "fraction of tokens clipped"
set y2label "value loss"
set y2tics
plot for [i = 1:words(runs)] log using 2:(col(word(runs, i), 14)) with lines lw 1.5 lc rgb colour(i) title word(runs, i)." clip", \
     for [i = 1:words(runs)] log using 2:(col(word(runs, i), 13)) axes x1y2 with lines lw 1 dt 2 lc rgb colour(i) title word(runs, i)." value loss"
unset multiplot
