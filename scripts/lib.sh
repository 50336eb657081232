# Sourced by the scripts in this folder: paths and small helpers shared by all of them.
ASTER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ASTER_BUILD=${ASTER_BUILD:-$ASTER_ROOT/build}
# The system Python: it has python3-yaml and python3-scapy from Debian packages.
ASTER_PY=/usr/bin/python3

aster_die() {
	echo "$(basename "$0"): $*" >&2
	exit 2
}

# Run as root, or through sudo when available.
aster_sudo() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		echo "$(basename "$0"): need root (or sudo) for: $*" >&2
		return 1
	fi
}

# The libFuzzer tree (tests/fuzz): clang, -Dfuzz=true, apart from the gcc builds.
ASTER_FUZZ_BUILD=$ASTER_ROOT/build-fuzz
ASTER_FUZZ_TARGETS=(fuzz_ctl_proto fuzz_decode fuzz_profile fuzz_recovery fuzz_request fuzz_retransmit
	fuzz_routing)

# Configure (once) and build the fuzz targets; the build log goes to $1.
aster_fuzz_build() {
	: >"$1"
	if [ ! -f "$ASTER_FUZZ_BUILD/build.ninja" ]; then
		CC=clang meson setup "$ASTER_FUZZ_BUILD" "$ASTER_ROOT" -Dfuzz=true -Dwerror=true \
			-Dtests=disabled --buildtype=debugoptimized >>"$1" 2>&1 || return 1
	fi
	ninja -C "$ASTER_FUZZ_BUILD" "${ASTER_FUZZ_TARGETS[@]/#/tests/fuzz/}" >>"$1" 2>&1
}

# aster_fuzz_run TARGET SECONDS CORPUS_DIR ARTIFACT_DIR: run one target on CORPUS_DIR
# (where new inputs go) and its checked-in seeds; a crash leaves its input in
# ARTIFACT_DIR. libFuzzer's own exit status (0 unless it found a crash or a leak).
aster_fuzz_run() {
	local t=$1 secs=$2 corpus=$3 art=$4
	mkdir -p "$corpus" "$art"
	"$ASTER_FUZZ_BUILD/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" "$corpus" "$ASTER_ROOT/tests/fuzz/corpus/$t"
}
