# Plots for compare.sh (docs/benchmarks.md). Called as
#   gnuplot -e "dir='RESULTS'; servers='twist coturn bare'; rate='50000'" plot.gp
# Reads RESULTS/steps_<server>.dat (columns: target offered delivered loss
# rtt_p50_us rtt_p99_us cpu_us_per_pkt; medians over the rounds) and writes
# throughput.png, cpu.png and latency.png next to them.

if (!exists("dir")) dir = "."
if (!exists("servers")) servers = "twist coturn bare"
if (!exists("rate")) rate = "?"

set terminal pngcairo size 900,560 font "sans,11" noenhanced
set grid
set key top left
set datafile missing "NaN"
set style data linespoints
set xlabel "offered load (packets/s, client to peer)"
set format x "%.0s%c"
set format y "%.0s%c"

f(s) = dir."/steps_".s.".dat"
name(s) = (s eq "bare") ? "barefwd (ceiling)" : (s eq "coturn") ? "coturn 4.6.1" : (s eq "base") ? "twist-relay (base)" : "twist-relay"

set output dir."/throughput.png"
set title "Delivered round trips vs offered load (echo through the relay)"
set ylabel "delivered (packets/s back at the clients)"
plot for [s in servers] f(s) using 2:3 title name(s) lw 2 pt 7, \
     x title "offered = delivered" dt 2 lc rgb "gray"

set output dir."/cpu.png"
set title "Relay CPU per relayed packet (lower is better)"
set ylabel "CPU microseconds per relayed packet"
set format y "%g"
set yrange [0:*]
plot for [s in servers] f(s) using 2:7 title name(s) lw 2 pt 7

set output dir."/latency.png"
set title "Round-trip latency through the relay: p50 (solid) and p99 (dashed)"
set ylabel "round trip (microseconds)"
set logscale y
set yrange [*:*]
plot for [i=1:words(servers)] f(word(servers, i)) using 2:5 title name(word(servers, i))." p50" lw 2 pt 7 lc i, \
     for [i=1:words(servers)] f(word(servers, i)) using 2:6 title name(word(servers, i))." p99" lw 2 pt 6 dt 2 lc i
