# shellcheck shell=bash
# exec_wait PID: wait (up to 5 s) until the background subshell PID has
# exec'd its program. Until then its command line is this shell's, and a
# check of the command line (alive() in proc.sh and netns_lib.sh) would
# call a program that is only starting dead: seen under load as
# "twist-relay exited" with an empty log. Sourced by both.
exec_wait() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -r "/proc/$1/cmdline" ] || return 0
		cmp -s "/proc/$1/cmdline" "/proc/$$/cmdline" || return 0
		sleep 0.05
	done
}
