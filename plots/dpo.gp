# dpo.gp — rung 6b, DPO on the preference pairs: for every run of the log
# (one beta each), the DPO loss and the implicit reward's pair accuracy on the
# held-out rankings against step, the log-probabilities of the chosen and the
# rejected answers, and the hidden rule's score against the KL to the SFT
# model at the end of each run, beside PPO's two runs (ppo.tsv beside the log).
# usage: gnuplot -c plots/dpo.gp plots/dpo.tsv plots/dpo.png
# columns: 1 run 2 step 3 beta 4 loss 5 loss_ema 6 accuracy 7 chosen_logp
#          8 rejected_logp 9 margin 10 test_loss 11 test_accuracy
#          12 test_chosen_logp 13 test_rejected_logp 14 kl 15 rule
#          16 where_colour 17 lr 18 seconds 19 judged_rule 20 judged_heldout_rule
#          21 judged_kl 22 judged_where_colour
log = ARG1; out = ARG2
dir = system("dirname " . log)
ppo = dir . "/ppo.tsv"
reward = dir . "/reward.tsv"
have_ppo = system("test -f " . ppo . " && echo 1 || echo 0") + 0
have_reward = system("test -f " . reward . " && echo 1 || echo 0") + 0
# the run labels, in the order they appear in the log
runs = system("awk -F'\t' 'NR > 1 && !seen[$1]++ { printf \"%s \", $1 }' " . log)
set terminal pngcairo size 1200,900 font ",10" noenhanced
set output out
set datafile separator "\t"
set datafile missing "-"
set grid
set key top right font ",9"
col(r, c) = (strcol(1) eq r) ? column(c) : NaN
colour(i) = i == 1 ? "#2040c0" : i == 2 ? "#d02020" : i == 3 ? "#208020" : i == 4 ? "#a020a0" : "#c08000"
ln2 = 0.693147
set multiplot layout 2,2 title "Rung 6b — DPO: -log sigma(beta [log pi/pi_ref (chosen) - log pi/pi_ref (rejected)]), all pairs of a ranking"

set title "DPO loss: training batches (EMA 0.9) and held-out rankings (points)"
set xlabel "step"
set ylabel "loss"
set yrange [0:*]
plot for [i = 1:words(runs)] log using 2:(col(word(runs, i), 5)) with lines lw 2 lc rgb colour(i) title word(runs, i), \
     for [i = 1:words(runs)] log using 2:(col(word(runs, i), 10)) with points pt 7 ps 0.8 lc rgb colour(i) notitle, \
     ln2 with lines dt 2 lc rgb "#808080" title "log 2 (policy = reference)"
set yrange [*:*]

set title "implicit reward beta log(pi/pi_ref) as a reward model: held-out pair accuracy"
set ylabel "pairs ordered as the hidden rule orders them"
set yrange [0.45:1]
set key bottom right
rm_acc = NaN
if (have_reward) rm_acc = real(system("awk -F'\t' 'NR > 1 && $7 != \"-\" { a = $7 } END { print a }' " . reward))
plot for [i = 1:words(runs)] log using 2:(col(word(runs, i), 11)) with linespoints pt 7 ps 0.8 lw 2 lc rgb colour(i) title word(runs, i), \
     rm_acc with lines dt 2 lw 1.5 lc rgb "#000000" title sprintf("rung 5's reward model (%.3f)", rm_acc), \
     0.5 with lines dt 3 lc rgb "#808080" title "chance"
set yrange [*:*]
set key top right

set title "log pi of the chosen (solid, left axis) and the rejected (dashed, right), held-out"
set ylabel "mean log pi(chosen | x)"
set y2label "mean log pi(rejected | x)"
set y2tics
plot for [i = 1:words(runs)] log using 2:(col(word(runs, i), 12)) with linespoints pt 7 ps 0.6 lw 2 lc rgb colour(i) title word(runs, i)." chosen", \
     for [i = 1:words(runs)] log using 2:(col(word(runs, i), 13)) axes x1y2 with linespoints pt 6 ps 0.6 lw 1.5 dt 2 lc rgb colour(i) title word(runs, i)." rejected"
unset y2tics
unset y2label

set title "end of each run: hidden rule against KL to SFT (sampled answers, ppo prompts)"
set xlabel "KL(policy || SFT) per answer, nats (log scale; 0 and below drawn at 0.01)"
set ylabel "hidden rule's score"
set key top right font ",8"
set logscale x
set xrange [0.01:5]
set offsets 0, 0, graph 0.1, graph 0.1
kl(x) = x > 0.01 ? x : 0.01
final = "< awk -F'\t' 'NR > 1 && $2 > 0 && $19 != \"-\"' " . log
sft_s = system("awk -F'\t' 'NR == 2 { print $19 }' " . log)
sft_rule = (sft_s eq "-" || sft_s eq "") ? NaN : real(sft_s)
last_ppo = "< awk -F'\t' 'NR > 1 { last[$1] = $0; if (!seen[$1]++) order[++n] = $1 } END { for (i = 1; i <= n; i++) print last[order[i]] }' " . ppo
lab(b, h) = sprintf("beta %g: %.0f%%", b, 100 * h)
dpo_points = "final using (kl(column(21))):19 with points pt 7 ps 1.5 lc rgb '#2040c0' title 'DPO (beta: % of where-questions answered with a colour)', \
     final using (kl(column(21))):($3 < 0.2 ? column(19) : NaN):(lab(column(3), column(22))) with labels left offset 1,0.7 font ',8' notitle, \
     final using (kl(column(21))):($3 >= 0.2 && $3 < 0.5 ? column(19) : NaN):(lab(column(3), column(22))) with labels left offset 1,-0.7 font ',8' notitle, \
     final using (kl(column(21))):($3 >= 0.5 ? column(19) : NaN):(lab(column(3), column(22))) with labels right offset -1,-0.7 font ',8' notitle, \
     sft_rule with lines dt 2 lw 1.5 lc rgb '#000000' title 'SFT, the start (KL 0)'"
ppo_points = "last_ppo using (kl(column(20))):19 with points pt 9 ps 1.8 lc rgb '#d02020' title 'PPO (EMA of its last rollouts)', \
     last_ppo using (kl(column(20))):19:(sprintf('PPO %s: %.0f%%', strcol(1), 100 * column(11))) with labels left offset 1,0 font ',8' tc rgb '#d02020' notitle"
if (have_ppo) { eval "plot " . dpo_points . ", " . ppo_points } else { eval "plot " . dpo_points }
unset multiplot
