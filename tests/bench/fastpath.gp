# The fast path comparison of tests/bench/fastpath.sh (docs/benchmarks.md,
# "Fast path"). Called as
#   gnuplot -e "dat='fastpath.dat'; out='bench-fastpath.png'" fastpath.gp
# dat columns: server cpu_machine_ns cpu_path_ns rtt_p99_us max_lossless_pps
# busy_cpus_idle (medians).

if (!exists("dat")) dat = "fastpath.dat"
if (!exists("out")) out = "bench-fastpath.png"

set terminal pngcairo size 1200,420 font "sans,11" noenhanced
set output out
set multiplot layout 1,3 title "coturn 4.6.1, twist in user space, twist with the TC fast path (veth lab, medians of one run; lower is better but the last)"
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.6
set grid ytics
set yrange [0:*]
unset key
name(s) = (s eq "coturn") ? "coturn" : (s eq "user") ? "user space" : "fast path"

set title "CPU ns per relayed packet (whole machine)"
plot dat using 2:xtic(name(strcol(1))) lc rgb "#4477aa"
set title "p99 round trip, fixed rate (us)"
plot dat using 4:xtic(name(strcol(1))) lc rgb "#ee6677"
set title "max lossless (packets/s each way)"
set format y "%.0s%c"
plot dat using 5:xtic(name(strcol(1))) lc rgb "#228833"
unset multiplot
