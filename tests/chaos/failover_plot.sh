#!/bin/bash
# Plots of failover_runs.sh's runs.csv (gnuplot, PNG):
#
#   failover_plot.sh runs CSV PNG TITLE     the gap of every run, one line
#                                           per failover mode
#   failover_plot.sh cdf PNG LABEL=CSV...   the gap's distribution (all
#                                           modes) per setting, e.g.
#                                           "advert 0.05 s=runs-0.05.csv"
set -u
die() {
	echo "failover_plot.sh: $*" >&2
	exit 1
}
command -v gnuplot >/dev/null || die "gnuplot not found (apt-get install gnuplot-nox)"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# gaps CSV MODE: "run gap_ms" lines of one mode ("" for all, sorted gaps).
gaps() {
	awk -F, -v m="$2" 'NR > 1 && $3 != "" && (m == "" || $1 == m) { print $2, $3 }' "$1"
}

plot_runs() {
	local csv=$1 png=$2 title=$3
	gaps "$csv" kill >"$TMP/kill.dat"
	gaps "$csv" link >"$TMP/link.dat"
	gnuplot <<EOF
set terminal pngcairo noenhanced size 900,480 font "sans,10"
set output "$png"
set title "$title"
set xlabel "run"
set ylabel "gap (ms)"
set yrange [0:*]
set grid
set key top left
plot "$TMP/kill.dat" using 1:2 with linespoints pt 7 title "SIGKILL keepalived+relay+syncd", \
     "$TMP/link.dat" using 1:2 with linespoints pt 5 title "links down"
EOF
}

# One "gap fraction" file per setting: the empirical CDF.
plot_cdf() {
	local png=$1 i=0 plots="" label csv
	shift
	for arg in "$@"; do
		label=${arg%%=*}
		csv=${arg#*=}
		[ -f "$csv" ] || die "no such file: $csv"
		i=$((i + 1))
		gaps "$csv" "" | awk '{ print $2 }' | sort -n |
			awk '{ v[NR] = $1 } END { for (k = 1; k <= NR; k++) print v[k], k / NR }' >"$TMP/$i.dat"
		plots="$plots${plots:+, }\"$TMP/$i.dat\" using 1:2 with steps lw 2 title \"$label ($(wc -l <"$TMP/$i.dat") runs)\""
	done
	[ "$i" -gt 0 ] || die "cdf: no LABEL=CSV given"
	gnuplot <<EOF
set terminal pngcairo noenhanced size 900,480 font "sans,10"
set output "$png"
set title "twist pair failover gap by VRRP advert interval (SIGKILL and links down)"
set xlabel "gap: longest time without an echoed packet (ms)"
set ylabel "fraction of runs"
set xrange [0:*]
set yrange [0:1.02]
set grid
set key below
set arrow from 100, 0 to 100, 1.02 nohead dt 2
plot $plots
EOF
}

case ${1:-} in
runs) [ $# = 4 ] || die "usage: runs CSV PNG TITLE"; plot_runs "$2" "$3" "$4" ;;
cdf) shift; [ $# -ge 2 ] || die "usage: cdf PNG LABEL=CSV..."; plot_cdf "$@" ;;
*) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
