# Sourced by the asterctl tests: the CLI scenario that asterctl runs the same way on the
# local socket (test_control_cli.sh) and over the HTTPS API of aster-control with
# --server (test_remote_api.sh): the same commands must give the same output, the same
# one-line errors and the same exit statuses whichever way they travel.
#
# The caller sets ACTL (the asterctl command with its target options), W, CPID and
# control.sh, and the settings' limits: 6 subscribers, 16 patterns
# each, 40 bytes a pattern.

# run NAME ARGS...: asterctl with stdout in $W/NAME.out, stderr in $W/NAME.err; sets RC.
run() {
	local name=$1
	shift
	RC=0
	"${ACTL[@]}" "$@" >"$W/$name.out" 2>"$W/$name.err" || RC=$?
}
ok() {
	run "$@"
	[ "$RC" = 0 ] || fail "$1: exit $RC: $(cat "$W/$1.err")"
}
# refused NAME EXPECTED-TEXT ARGS...: must exit non-zero with one line on stderr holding the text.
refused() {
	local name=$1 text=$2
	shift 2
	run "$name" "$@"
	[ "$RC" != 0 ] || fail "$name: accepted: $(cat "$W/$name.out")"
	[ "$(wc -l <"$W/$name.err")" = 1 ] || fail "$name: error not one line: $(cat "$W/$name.err")"
	grep -qF -- "$text" "$W/$name.err" || fail "$name: error lacks '$text': $(cat "$W/$name.err")"
	echo "$name: refused: $(cat "$W/$name.err")"
}
has() {
	grep -qF -- "$2" "$W/$1.out" || fail "$1: output lacks '$2': $(cat "$W/$1.out")"
}
version() {
	"${ACTL[@]}" status -o json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'
}

# cli_scenario FILE: from an empty store, with FILE the routing of feedgen --seed 5
# (4 subscribers): apply and its diff, dry run, imperative edits, errors and limits that
# leave the table alone, and kill -9 of aster-control that loses nothing.
cli_scenario() {
	local Y=$1 V
	# apply: the diff, then idempotence.
	ok apply1 apply -f "$Y"
	has apply1 "+ feed itch"
	has apply1 "+ subscriber sub0001"
	has apply1 "+ subscriber sub0004"
	has apply1 "table version 0 -> 1"
	has apply1 "dataplane unreachable: will sync on reconnect"
	ok apply2 apply -f "$Y"
	has apply2 "no changes"
	[ "$(version)" = 1 ] || fail "version after applying the same file twice: $(version)"

	# A dry run of an edited file: diff only, nothing stored.
	sed -e '/name: sub0004/,$d' "$Y" >"$W/three.yaml"
	ok dry apply -f "$W/three.yaml" --dry-run
	has dry "- subscriber sub0004"
	has dry "dry run"
	[ "$(version)" = 1 ] || fail "dry run changed the version"
	ok three apply -f "$W/three.yaml"
	has three "- subscriber sub0004"
	has three "table version 1 -> 2"
	ok back apply -f "$Y"
	has back "+ subscriber sub0004"
	has back "table version 2 -> 3"

	# Imperative edits.
	ok add add-subscriber s5 --feed itch --port out0 --dst-mac 02:00:00:00:00:55 \
		--dst-ip 10.1.5.5 --dst-port 31555 --session S5 --symbols '^AAPL$,^M[A-Z]{1,3}$' \
		--types AFE --max-payload 900
	has add "+ subscriber s5"
	has add "table version 3 -> 4"
	ok addp add-pattern s5 '^GOOG$'
	has addp 'pattern "^GOOG$"'
	ok rmp remove-pattern s5 '^AAPL$'
	has rmp 'pattern "^AAPL$"'
	ok get get subscribers -o json
	/usr/bin/python3 - "$W/get.out" <<-'PY' || fail "get subscribers -o json: s5 not as added"
	import json, sys
	r = json.load(open(sys.argv[1]))
	s = {x["name"]: x for x in r["subscribers"]}["s5"]
	assert r["version"] == 6, r["version"]
	assert s["symbols"] == ["^M[A-Z]{1,3}$", "^GOOG$"], s["symbols"]
	assert s["types"] == "AEF" and s["max_payload"] == 900 and s["session"] == "S5", s
	assert s["dst"] == {"mac": "02:00:00:00:00:55", "ip": "10.1.5.5", "port": 31555}, s["dst"]
	PY
	ok table get subscribers
	has table "s5"
	ok feeds get feeds
	has feeds "A=233.54.12.111:26477"

	# Errors: one line naming what is wrong; the table unchanged.
	V=$(version)
	refused badpat 'subscriber "s5": pattern "^(AAPL"' add-pattern s5 '^(AAPL'
	sed -e '/name: sub0002/,/symbols:/ s/symbols: \[/symbols: ["^(BAD", /' "$Y" >"$W/badpat.yaml"
	grep -qF '"^(BAD"' "$W/badpat.yaml" || fail "could not plant an invalid pattern"
	refused badfile 'subscriber "sub0002": pattern "^(BAD"' apply -f "$W/badpat.yaml"
	grep -qF 'badpat.yaml:' "$W/badfile.err" || fail "badfile: no file:line in $(cat "$W/badfile.err")"
	refused ghost 'subscriber "ghost": no such subscriber' remove-subscriber ghost
	refused ghostp 'subscriber "ghost": no such subscriber' add-pattern ghost '^X'
	refused nofeed 'unknown feed "nofeed"' add-subscriber s9 --feed nofeed --port out0 \
		--dst-mac 02:00:00:00:00:09 --dst-ip 10.1.9.9 --dst-port 31999 --session S9 --symbols '^X'
	refused usage 'unknown command' frobnicate
	[ "$(version)" = "$V" ] || fail "a refused change moved the version from $V to $(version)"

	# Limits (settings: 6 subscribers, 16 patterns each, 40 bytes a pattern).
	refused longpat 'max_pattern_length' add-pattern s5 "^$(printf 'A%.0s' $(seq 45))\$"
	refused manypat 'max_patterns_per_subscriber' add-subscriber s6 --feed itch --port out0 \
		--dst-mac 02:00:00:00:00:66 --dst-ip 10.1.6.6 --dst-port 31666 --session S6 \
		--symbols "$(seq -s, -f '^A%g' 17)"
	ok six add-subscriber s6 --feed itch --port out0 --dst-mac 02:00:00:00:00:66 \
		--dst-ip 10.1.6.6 --dst-port 31666 --session S6 --symbols '^B'
	refused seven 'max_subscribers' add-subscriber s7 --feed itch --port out0 \
		--dst-mac 02:00:00:00:00:77 --dst-ip 10.1.7.7 --dst-port 31777 --session S7 --symbols '^C'
	ok rm6 remove-subscriber s6
	has rm6 "- subscriber s6"

	# kill -9 and restart: same table, same version (SQLite, one transaction per change).
	ok before get subscribers -o json
	V=$(version)
	{
		kill -9 "$CPID"
		wait "$CPID" || true
	} 2>/dev/null # bash reports the SIGKILL, which is the point here
	CPID=""
	control_start
	ok after get subscribers -o json
	cmp -s "$W/before.out" "$W/after.out" || fail "table differs after kill -9 and restart"
	[ "$(version)" = "$V" ] || fail "version $V before kill -9, $(version) after"
	ok again apply -f "$Y"
	has again "- subscriber s5"
	echo "kill -9 and restart: table and version $V intact"

	# Every version rebuilt from the store's journal, after the restart: 1 and 3 are
	# both the file, 2 is three.yaml (sub0004 gone), 6 has s5 as edited.
	ok v1 get --version 1
	ok v3 get --version 3
	cmp -s "$W/v1.out" "$W/v3.out" || fail "versions 1 and 3 (the same file applied) differ"
	ok v2diff get --version 2 --diff
	has v2diff "- subscriber sub0004"
	ok v6 get --version 6 -o json
	/usr/bin/python3 - "$Y" "$W/v1.out" "$W/v6.out" <<-'PY' || fail "versions rebuilt from the history differ from what was applied"
	import json, sys, yaml
	applied = yaml.safe_load(open(sys.argv[1]))
	v1 = yaml.safe_load(open(sys.argv[2]))
	v6 = yaml.safe_load(json.load(open(sys.argv[3]))["yaml"])
	subs = lambda t: {s["name"]: list(s["symbols"]) for s in t["subscribers"]}
	assert subs(v1) == subs(applied), (subs(v1), subs(applied))
	assert subs(v6)["s5"] == ["^M[A-Z]{1,3}$", "^GOOG$"], subs(v6)["s5"]
	PY
	ok hist history
	has hist "add-pattern"
	ok histj history --limit 3 -o json
	/usr/bin/python3 -c 'import json,sys; v=[x["version"] for x in json.load(open(sys.argv[1]))["versions"]]; assert len(v) == 3 and v == sorted(v, reverse=True), v' \
		"$W/histj.out" || fail "history --limit 3: $(tr -d "\n " <"$W/histj.out" | head -c 600)"
	refused nover 'version 999 is not in the history' get --version 999
	refused badver 'is not a number from 1' get --version 0
	echo "versions 1-6 rebuilt from the history after the restart; history lists them"
}

# cli_health_down: without a dataplane, health says down with its reason, exit 2.
cli_health_down() {
	run health health
	[ "$RC" = 2 ] || fail "asterctl health exit $RC without a dataplane, want 2"
	has health "down"
	has health "dataplane unreachable"
	echo "health: $(head -n 2 "$W/health.out" | tr '\n' ' ')"
}

# cli_control_gone: aster-control stopped, asterctl says so in one line, non-zero (3 for
# health: the state is unknown).
cli_control_gone() {
	control_stop
	run gone get feeds
	[ "$RC" != 0 ] && grep -qF "cannot reach aster-control" "$W/gone.err" || fail "no error without aster-control"
	run gone_health health
	[ "$RC" = 3 ] || fail "asterctl health without aster-control: exit $RC, want 3"
}
