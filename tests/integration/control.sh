# Sourced by the tests that run aster-control (after lib.sh): start it with the settings
# in $W/settings.yaml, logging to $W/control.log, and wait until CONTROL_READY (a command,
# as an array: asterctl status over the socket or the HTTPS API) succeeds; stop it.
# CPID is its pid while it runs. The caller's EXIT trap calls control_stop.
CPID=""
control_start() {
	"$BUILD/control/aster-control" --settings "$W/settings.yaml" >>"$W/control.log" 2>&1 &
	CPID=$!
	for _ in $(seq 100); do
		"${CONTROL_READY[@]}" >/dev/null 2>&1 && return 0
		kill -0 "$CPID" 2>/dev/null || fail "aster-control exited: $(tail -n 1 "$W/control.log")"
		sleep 0.05
	done
	fail "aster-control did not answer ${CONTROL_READY[*]}"
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
