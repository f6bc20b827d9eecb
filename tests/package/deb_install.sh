#!/usr/bin/env bash
# The Debian package, end to end (docs/operations.md, "Installing the package").
#
#   deb_install.sh SOURCE_DIR WORK_DIR
#
# 1. A Release build of SOURCE_DIR in WORK_DIR/build, with Debian's hardening
#    flags, and `cpack -G DEB`.
# 2. lintian on the .deb: any error fails; warnings are listed.
# 3. A clean Debian 12 root (debootstrap --variant=minbase, cached as a
#    tarball in TWIST_PKG_CACHE, default /var/cache/twist-test) unpacked in
#    WORK_DIR/root; `apt-get install ./twist_*.deb` in it, in a private mount
#    namespace: apt resolves the Depends from the mirror, so they are proven.
# 4. deb_serve.sh in a private mount and network namespace: twist-relay from
#    the installed /etc/twist/twist-relay.yaml as the twist user, and the
#    host's turnutils_uclient against it.
# 5. `apt-get purge twist`: postrm removes the user, group and state.
# The mounts live only in the private mount namespaces: they go when those
# do. Needs root.
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME=deb_install
TWIST_TEST_NETNS=0 # the install needs the mirror; deb_serve.sh has its own netns
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../integration/lib.sh
. "$HERE/../integration/lib.sh"

SRC=${1:?usage: deb_install.sh SOURCE_DIR WORK_DIR}
WORK=${2:?usage: deb_install.sh SOURCE_DIR WORK_DIR}
CACHE=${TWIST_PKG_CACHE:-/var/cache/twist-test}
BASE=$CACHE/bookworm-minbase.tar
ROOT=$WORK/root

[ "$(id -u)" -eq 0 ] || tw_fail "needs root (debootstrap, chroot, namespaces)"
for t in cmake:cmake cpack:cmake dpkg-buildflags:dpkg-dev lintian:lintian debootstrap:debootstrap \
	unshare:util-linux chroot:coreutils flock:util-linux ip:iproute2 curl:curl \
	turnutils_uclient:coturn turnutils_peer:coturn timeout:coreutils; do
	tw_need "${t%%:*}" "${t#*:}"
done

build_deb() {
	local b=$WORK/build
	tw_log "Release build in $b"
	export DEB_BUILD_MAINT_OPTIONS=hardening=+all
	CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
		LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" \
		cmake -S "$SRC" -B "$b" -DCMAKE_BUILD_TYPE=Release -DTWIST_TESTS=OFF \
		-DTWIST_SANITIZE=OFF -DTWIST_FUZZ=OFF >"$WORK/cmake.log" 2>&1 ||
		{ tail -n 30 "$WORK/cmake.log"; tw_fail "cmake configure failed"; }
	cmake --build "$b" -j2 >"$WORK/build.log" 2>&1 ||
		{ tail -n 30 "$WORK/build.log"; tw_fail "build failed"; }
	rm -f "$b"/twist_*.deb
	(cd "$b" && cpack -G DEB) >"$WORK/cpack.log" 2>&1 ||
		{ tail -n 30 "$WORK/cpack.log"; tw_fail "cpack -G DEB failed"; }
	DEB=$(ls "$b"/twist_*.deb 2>/dev/null | head -n1)
	[ -n "$DEB" ] || tw_fail "cpack made no twist_*.deb"
	tw_log "built $(basename "$DEB"): $(dpkg-deb -f "$DEB" Depends)"
}

run_lintian() {
	local out rc
	out=$(lintian --fail-on error --display-level '>=warning' "$DEB" 2>&1)
	rc=$?
	out=$(grep -v '^running with root privileges' <<<"$out")
	tw_log "lintian: $(grep -c '^E:' <<<"$out") errors, $(grep -c '^W:' <<<"$out") warnings"
	[ -z "$out" ] || sed 's/^/    /' <<<"$out"
	[ $rc -eq 0 ] || tw_fail "lintian reports errors on $(basename "$DEB") (exit $rc)"
}

# The first line of the host's Debian mirror, e.g. http://deb.debian.org/debian.
mirror() {
	{
		sed -n 's/^URIs: *\(http[^ ]*\/debian\/\?\) *$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null
		sed -n 's/^deb \(\[[^]]*\] \)\?\(http[^ ]*\/debian\/\?\) .*/\2/p' /etc/apt/sources.list 2>/dev/null
	} | head -n1
}

# The debootstrapped root is made once and cached: later runs unpack it.
make_base() {
	local url tmp
	mkdir -p "$CACHE" && exec 9>"$CACHE/lock" && flock -w 900 9 || tw_fail "cannot lock $CACHE/lock"
	if [ -s "$BASE" ]; then
		tw_log "clean Debian 12 root: cached $BASE"
		return
	fi
	url=$(mirror)
	[ -n "$url" ] || tw_fail "no Debian mirror in /etc/apt/sources.list{,.d}: cannot debootstrap"
	tmp=$CACHE/bootstrap.tmp
	rm -rf "$tmp"
	tw_log "debootstrap --variant=minbase bookworm from $url (first run only)"
	if ! timeout 900 debootstrap --variant=minbase bookworm "$tmp" "$url" >"$WORK/debootstrap.log" 2>&1; then
		tail -n 20 "$WORK/debootstrap.log"
		rm -rf "$tmp"
		tw_fail "debootstrap from $url failed (no network to the mirror?): log above"
	fi
	tar -C "$tmp" -cf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE" || tw_fail "cannot write $BASE"
	rm -rf "$tmp"
}

# The root's mounts exist only in in_root's private namespaces; were one
# ever visible here, rm -rf would reach into the host's /dev.
remove_root() {
	if grep -qF " $ROOT/" /proc/self/mountinfo; then
		tw_fail "something is mounted under $ROOT in the host namespace: not removing it"
	fi
	rm -rf "$ROOT"
}

unpack_root() {
	remove_root && mkdir -p "$ROOT" && tar -C "$ROOT" -xf "$BASE" || tw_fail "cannot unpack $BASE"
	cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
	# No service starts inside the root.
	printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d" && chmod 755 "$ROOT/usr/sbin/policy-rc.d"
	cp "$DEB" "$ROOT/tmp/" || tw_fail "cannot copy the .deb into the root"
	mkdir -p "$CACHE/archives/partial"
}

# in_root CMD...: CMD chrooted in ROOT, in a private mount namespace with
# /proc, /dev and the shared apt archive cache mounted; at most 10 minutes.
in_root() {
	timeout -k 10 600 unshare --mount --fork -- bash -c '
		set -e
		r=$1 c=$2
		shift 2
		mount -t proc proc "$r/proc"
		mount --rbind /dev "$r/dev"
		mount --bind "$c/archives" "$r/var/cache/apt/archives"
		exec chroot "$r" "$@"' in_root "$ROOT" "$CACHE" "$@"
}

install_deb() {
	local deb apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o APT::Sandbox::User=root)
	deb=/tmp/$(basename "$DEB")
	tw_log "apt-get install $deb in the clean root"
	in_root "${apt[@]}" update >"$WORK/apt.log" 2>&1 ||
		{ tail -n 20 "$WORK/apt.log"; tw_fail "apt-get update in the root failed (no network to the mirror?)"; }
	in_root "${apt[@]}" install --no-install-recommends "$deb" >>"$WORK/apt.log" 2>&1 ||
		{ tail -n 30 "$WORK/apt.log"; tw_fail "apt-get install of the .deb failed"; }
	grep -E '^(Setting up|Unpacking) ' "$WORK/apt.log" | sed 's/^/    /'
}

check_installed() {
	local st
	in_root getent passwd twist >/dev/null || tw_fail "postinst made no twist user"
	in_root getent group twist >/dev/null || tw_fail "postinst made no twist group"
	st=$(in_root stat -c '%U:%G %a' /var/lib/twist)
	[ "$st" = "twist:twist 750" ] ||
		tw_fail "/var/lib/twist is '$st', expected twist:twist 750"
	st=$(in_root stat -c '%U:%G %a' /etc/twist/twist-relay.yaml)
	[ "$st" = "root:twist 640" ] || tw_fail "/etc/twist/twist-relay.yaml is '$st', expected root:twist 640"
	for f in /usr/sbin/twist-relay /usr/sbin/twist-syncd /usr/sbin/twist-ha \
		/lib/systemd/system/twist-relay.service /usr/lib/tmpfiles.d/twist.conf \
		/etc/twist/twist-syncd.env /usr/share/man/man5/twist-relay.yaml.5.gz; do
		[ -e "$ROOT$f" ] || tw_fail "$f is not installed"
	done
	in_root /usr/sbin/twist-relay --version >/dev/null || tw_fail "the installed twist-relay does not run"
	tw_log "installed: twist user and group, /var/lib/twist twist:twist 750, config root:twist 640"
}

purge_deb() {
	in_root env DEBIAN_FRONTEND=noninteractive apt-get -y -q purge twist >>"$WORK/apt.log" 2>&1 ||
		{ tail -n 20 "$WORK/apt.log"; tw_fail "apt-get purge twist failed"; }
	in_root getent passwd twist >/dev/null && tw_fail "purge left the twist user"
	in_root getent group twist >/dev/null && tw_fail "purge left the twist group"
	[ -e "$ROOT/var/lib/twist" ] && tw_fail "purge left /var/lib/twist"
	[ -e "$ROOT/etc/twist" ] && tw_fail "purge left /etc/twist"
	in_root dpkg-statoverride --list | grep -q twist && tw_fail "purge left a statoverride"
	tw_log "purged: user, group, /var/lib/twist, /etc/twist and the statoverride are gone"
}

tw_trap
mkdir -p "$WORK" || tw_fail "cannot create $WORK"
start=$SECONDS
build_deb
run_lintian
make_base
unpack_root
install_deb
check_installed
tw_log "serving from the installed package (private network namespace)"
TW_IN_NETNS=1 unshare --mount --net --fork -- bash "$HERE/deb_serve.sh" "$ROOT" ||
	tw_fail "the installed relay did not serve turnutils_uclient (above)"
purge_deb
remove_root
tw_pass "package built, lintian clean, installed, served uclient, purged ($((SECONDS - start))s)"
