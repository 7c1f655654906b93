# shellcheck shell=bash disable=SC2154 # prog and work: set by the sourcing script
# Shell functions shared by scripts/bench and scripts/reload-bench; sourced, never run.
# The sourcing script sets, before calling them: prog (its name, for messages) and work (its
# work directory, made world-readable: the peers' workers run as nobody).
# It records what it starts in server_pids (servers, ended by stop_pid) and helper_pids (wrk,
# the watchdog, load holders: ended by TERM); stop_started, called from its EXIT trap, ends them.

warn() { echo "$prog: $*" >&2; }
die() { warn "$*"; exit 1; }

server_pids=()
helper_pids=()
policy_created=0

as_root() {
	if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

descendants() {
	local child
	for child in $(pgrep -P "$1"); do
		echo "$child"
		descendants "$child"
	done
}

alive() { [[ -e /proc/$1 ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

stop_pid() {
	local pid=$1 kids i
	alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
	kids=$(descendants "$pid")
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 50); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		for i in $(descendants "$pid"); do kill -KILL "$i" 2>/dev/null; done
	fi
	wait "$pid" 2>/dev/null
	for i in $kids; do # workers a dying master left behind
		alive "$i" && kill -KILL "$i" 2>/dev/null
	done
	return 0
}

# Ends every helper and server recorded, and takes back a policy-rc.d left by an interrupted
# install. For the EXIT trap.
stop_started() {
	local pid
	for pid in "${helper_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for pid in "${server_pids[@]}"; do
		stop_pid "$pid"
	done
	((policy_created)) && as_root rm -f /usr/sbin/policy-rc.d
	return 0
}

# Bounds the whole run: TERM to this shell after LIMIT seconds. The TERM trap runs once the
# current (bounded) step ends.
start_watchdog() {
	local limit=$1 parent=$$
	(
		trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
		sleep "$limit" &
		sleeper=$!
		wait "$sleeper" && kill -TERM "$parent"
	) </dev/null >/dev/null 2>&1 &
	helper_pids+=($!)
}

# ---- Debian packages ----

missing_packages() { # PACKAGE...: those not installed
	local p status
	for p in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
		[[ $status == "install ok installed" ]] || echo "$p"
	done
}

# Debian starts a package's service on install; a policy-rc.d that answers 101 forbids that,
# and the services are disabled afterwards so that nothing of them stays behind.
install_packages() {
	local pkgs=("$@") svc
	warn "installing ${pkgs[*]}"
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null &&
			as_root chmod 755 /usr/sbin/policy-rc.d && policy_created=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	local apt=(timeout 900 apt-get -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold)
	if ! as_root "${apt[@]}" install "${pkgs[@]}" </dev/null >"$work/apt.log" 2>&1; then
		as_root timeout 300 apt-get update -qq </dev/null >>"$work/apt.log" 2>&1
		as_root "${apt[@]}" install "${pkgs[@]}" </dev/null >>"$work/apt.log" 2>&1 ||
			die "apt-get install ${pkgs[*]} failed: $(tail -3 "$work/apt.log")"
	fi
	((policy_created)) && as_root rm -f /usr/sbin/policy-rc.d && policy_created=0
	for svc in nginx lighttpd h2o haproxy caddy; do
		[[ " ${pkgs[*]} " == *" $svc"* ]] || continue
		if [[ -d /run/systemd/system ]]; then
			as_root systemctl disable --now "$svc" >/dev/null 2>&1
		elif [[ -x /etc/init.d/$svc ]]; then
			as_root "/etc/init.d/$svc" stop </dev/null >/dev/null 2>&1
			as_root update-rc.d "$svc" disable >/dev/null 2>&1
		fi
	done
}

ensure_packages() { # PACKAGE...: installs those missing
	local missing
	mapfile -t missing < <(missing_packages "$@")
	((${#missing[@]} == 0)) || install_packages "${missing[@]}"
}

# ---- ports: free ones above the ephemeral range, never the same twice in a run ----

read -r _ ephemeral_hi </proc/sys/net/ipv4/ip_local_port_range
port_lo=$((ephemeral_hi < 64000 ? ephemeral_hi + 1 : 32769))
taken_ports=" "
pick_port() {
	local p i
	for i in $(seq 500); do
		p=$((port_lo + RANDOM % (65535 - port_lo)))
		[[ $taken_ports == *" $p "* ]] && continue
		[[ -z $(ss -Hltn "sport = :$p") ]] || continue
		taken_ports+="$p "
		echo "$p"
		return 0
	done
	return 1
}
