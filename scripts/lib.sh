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
