# Sourced by the tests that run aster-control (after lib.sh): control_start [SETTINGS]
# starts it with SETTINGS (default $W/settings.yaml), logging to $W/control.log, and waits
# until CONTROL_READY (a command, as an array: asterctl status over the socket or the
# HTTPS API; by default asterctl status on the settings' socket_dir) succeeds;
# CONTROL_MEM_KB, when set, bounds its address space (ulimit -v); control_stop stops it.
# CPID is its pid while it runs. The caller's EXIT trap calls control_stop.
CPID=""
control_start() {
	local settings=${1:-$W/settings.yaml} ready
	if [ -n "${CONTROL_READY+x}" ]; then
		ready=("${CONTROL_READY[@]}")
	else
		ready=("$BUILD/control/asterctl" --socket
			"$(sed -n 's/^socket_dir: *//p' "$settings")/asterctl.sock" status)
	fi
	(
		[ -z "${CONTROL_MEM_KB:-}" ] || ulimit -v "$CONTROL_MEM_KB"
		exec "$BUILD/control/aster-control" --settings "$settings"
	) >>"$W/control.log" 2>&1 &
	CPID=$!
	for _ in $(seq 100); do
		"${ready[@]}" >/dev/null 2>&1 && return 0
		kill -0 "$CPID" 2>/dev/null || fail "aster-control exited: $(tail -n 1 "$W/control.log")"
		sleep 0.05
	done
	fail "aster-control did not answer ${ready[*]}"
}

control_stop() {
	if [ -n "$CPID" ]; then
		kill "$CPID" 2>/dev/null || true
		wait "$CPID" 2>/dev/null || true
		CPID=""
	fi
}

# control_settings HTTP-PORT: the settings lines the tests share (files in $W, the
# dataplane's socket and health segment as netns.sh names them).
control_settings() {
	cat <<YAML
db: $W/control.db
socket_dir: $W/sock
dataplane_socket: $W/dp.sock
health_file: $W/dp.health
audit_log: $W/audit.log
http_port: $1
YAML
}
