# The TWIST iperf3 plot in docs/benchmarks.md, from docs/img/twist-iperf.dat
# (tests/bench/twist_iperf.sh results, one line per run and build):
#   gnuplot -e "dat='docs/img/twist-iperf.dat'; out='docs/img/bench-twist-iperf.png'" tests/bench/plot_twist.gp
if (!exists("dat")) dat = "twist-iperf.dat"
if (!exists("out")) out = "bench-twist-iperf.png"

set terminal pngcairo size 1000,420 font "sans,11" noenhanced
set output out
set multiplot layout 1,2 title "iperf3, one TCP stream, through TWIST transport mode (TWIST lab, veths)"
set grid y
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xlabel "run"
set key top left

set title "Throughput through TWIST / same path without TWIST"
set ylabel "ratio"
set yrange [0:1]
plot "< grep ' before ' ".dat using 5:xtic(1) title "before offloads" lc rgb "#999999", \
     "< grep ' after ' ".dat using 5:xtic(1) title "TUN TSO + UDP GSO" lc rgb "#1f77b4", \
     "< grep ' gro ' ".dat using 5:xtic(1) title "+ relay UDP_GRO" lc rgb "#2ca02c", \
     0.8 with lines dt 2 lc rgb "red" title "issue 9 target"

set title "CPU per GB relayed (lower is better)"
set ylabel "CPU s per GB"
set yrange [0:13]
set key top right horizontal maxcols 2
plot "< grep ' before ' ".dat using 6:xtic(1) title "relay, before" lc rgb "#bbbbbb", \
     "< grep ' after ' ".dat using 6:xtic(1) title "relay, after" lc rgb "#1f77b4", \
     "< grep ' before ' ".dat using 7:xtic(1) title "shim, before" lc rgb "#777777", \
     "< grep ' after ' ".dat using 7:xtic(1) title "shim, after" lc rgb "#ff7f0e", \
     "< grep ' gro ' ".dat using 6:xtic(1) title "relay, UDP_GRO" lc rgb "#2ca02c", \
     "< grep ' gro ' ".dat using 7:xtic(1) title "shim, UDP_GRO" lc rgb "#d62728"
unset multiplot
