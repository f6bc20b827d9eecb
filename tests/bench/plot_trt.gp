# The TRT iperf3 plot in docs/benchmarks.md, from docs/img/trt-iperf.dat
# (tests/bench/trt_iperf.sh: one line per stream count, twist and TAYGA side
# by side, "?" where one did not run):
#   gnuplot -e "dat='docs/img/trt-iperf.dat'; out='docs/img/bench-trt-iperf.png'" tests/bench/plot_trt.gp
if (!exists("dat")) dat = "trt-iperf.dat"
if (!exists("out")) out = "bench-trt-iperf.png"

set terminal pngcairo size 1000,480 font "sans,11" noenhanced
set output out
set datafile missing "?"
set multiplot layout 1,2 title "iperf3 TCP, IPv6-only client to IPv4-only server (TRT lab, veths)"
set grid y
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xlabel "parallel streams"
set key below horizontal

set title "Throughput (higher is better)"
set ylabel "Gbit/s"
set yrange [0:*]
plot dat using 2:xtic(1) title "twist TRT" lc rgb "#1f77b4", \
     dat using 3:xtic(1) title "TAYGA" lc rgb "#ff7f0e"

set title "CPU per GB translated (lower is better)"
set ylabel "CPU s per GB"
set key below horizontal maxcols 2
plot dat using 4:xtic(1) title "twist-relay process" lc rgb "#1f77b4", \
     dat using 5:xtic(1) title "tayga process" lc rgb "#ff7f0e", \
     dat using 6:xtic(1) title "machine, twist run" lc rgb "#9ecae1", \
     dat using 7:xtic(1) title "machine, TAYGA run" lc rgb "#fdd0a2"
unset multiplot
