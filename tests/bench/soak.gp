# soak.gp: relay RSS over a soak (tests/bench/soak.sh's samples.csv).
#   gnuplot -e "twist='T/samples.csv'; coturn='C/samples.csv'; out='rss.png'" soak.gp
# Either input may be left out.
set terminal pngcairo size 900,420 font ",10"
set output out
set datafile separator ","
set title "Relay RSS while holding allocations (soak.sh; lower and flatter is better)"
set xlabel "seconds since the load generator started"
set ylabel "RSS, MiB"
set key center right
set grid
set logscale y 2
plot \
	(exists("twist") ? twist : "/dev/null") every ::1 using 1:($2/1024) with linespoints pt 7 ps 0.5 title "twist-relay", \
	(exists("coturn") ? coturn : "/dev/null") every ::1 using 1:($2/1024) with linespoints pt 7 ps 0.5 title "coturn 4.6.1"
