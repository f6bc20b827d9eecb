#!/usr/bin/env bash
# Checks that the man pages render cleanly and stay true to the programs.
#
#   man_check.sh lint PAGE...           groff -ww, mandoc -Tlint and man -l:
#                                       no warning from any of them
#   man_check.sh options BINARY PAGE    every --option in BINARY --help is
#                                       in PAGE
#   man_check.sh keys CONFIG_MD PAGE    every key of docs/configuration.md's
#                                       tables is in PAGE
#   man_check.sh missing NAME           NAME was not built: say so, exit 77
#                                       (ctest shows the test as skipped)
set -uo pipefail

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

need() {
	command -v "$1" >/dev/null 2>&1 || fail "$1 not found: apt-get install $2 (scripts/setup.sh)"
}

# The page's text with roff's \- turned back into '-'. Kept in a variable:
# `page_text | grep -q` would fail under pipefail when grep stops early.
page_text() {
	sed 's/\\-/-/g' "$1"
}

lint() {
	local page out bad=0 was
	need groff groff
	need mandoc mandoc
	need man man-db
	for page in "$@"; do
		[ -r "$page" ] || fail "$page: missing"
		was=$bad
		bad=0
		out=$(groff -man -ww -z "$page" 2>&1)
		[ -z "$out" ] || { printf '%s: groff:\n%s\n' "$page" "$out"; bad=1; }
		# -W all: also style warnings; mandoc exits 0 only without them.
		out=$(mandoc -T lint -W all "$page" 2>&1) || bad=1
		[ -z "$out" ] || { printf '%s: mandoc:\n%s\n' "$page" "$out"; bad=1; }
		out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
		[ -z "$out" ] || { printf '%s: man -l:\n%s\n' "$page" "$out"; bad=1; }
		# An empty rendering would pass the checks above.
		[ "$(MANWIDTH=80 man -l "$page" 2>/dev/null | wc -l)" -gt 20 ] ||
			{ printf '%s: renders to almost nothing\n' "$page"; bad=1; }
		[ "$bad" -eq 1 ] || echo "$page: renders cleanly"
		[ "$was" -eq 0 ] || bad=1
	done
	[ "$bad" -eq 0 ] || fail "man pages with warnings (above)"
}

options() {
	local bin=$1 page=$2 help text opts o missing=()
	text=$(page_text "$page") || fail "cannot read $page"
	help=$("$bin" --help 2>&1) || fail "$bin --help exited $?"
	mapfile -t opts < <(grep -o -- '--[a-z][a-z0-9-]*' <<<"$help" | sort -u)
	[ "${#opts[@]}" -ge 2 ] || fail "$bin --help lists ${#opts[@]} options: cannot parse it"
	for o in "${opts[@]}"; do
		grep -Eq -- "${o}([^a-z0-9-]|\$)" <<<"$text" || missing+=("$o")
	done
	[ "${#missing[@]}" -eq 0 ] || fail "$page lacks options of $bin --help: ${missing[*]}"
	echo "$page: names all ${#opts[@]} options of $(basename "$bin") --help"
}

# Keys are the first column of the tables: "| `name` | ...".
keys() {
	local md=$1 page=$2 text keys k missing=()
	text=$(page_text "$page") || fail "cannot read $page"
	mapfile -t keys < <(sed -n 's/^| *`\([a-z0-9_]*\)` *|.*/\1/p' "$md" | sort -u)
	[ "${#keys[@]}" -ge 20 ] || fail "$md: found ${#keys[@]} keys: cannot parse its tables"
	for k in "${keys[@]}"; do
		grep -q "^\.B $k\$" <<<"$text" || missing+=("$k")
	done
	[ "${#missing[@]}" -eq 0 ] || fail "$page lacks keys of $md: ${missing[*]}"
	echo "$page: describes all ${#keys[@]} keys of $(basename "$md")"
}

case ${1:-} in
lint) shift && lint "$@" ;;
options) options "$2" "$3" ;;
keys) keys "$2" "$3" ;;
missing)
	echo "NOT CHECKED: target $2 is not built in this tree, so its man page's options are unchecked" >&2
	exit 77
	;;
*) fail "usage: man_check.sh lint|options|keys|missing ..." ;;
esac
