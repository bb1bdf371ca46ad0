#!/usr/bin/env bash
# Makes sure a Chromium the browser tests can drive is installed. On Debian
# and Ubuntu, when run as root, it installs the distribution's package;
# otherwise it explains what to install and fails.
set -euo pipefail

find_chromium() {
	if [[ -n "${CHROMIUM:-}" && -x "${CHROMIUM}" ]]; then
		echo "${CHROMIUM}"
		return 0
	fi
	local c
	for c in chromium chromium-browser google-chrome-stable google-chrome; do
		if command -v "$c" >/dev/null 2>&1; then
			command -v "$c"
			return 0
		fi
	done
	return 1
}

if path=$(find_chromium); then
	echo "chromium: ${path}"
	exit 0
fi

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
	echo "chromium: not found, installing Debian's package" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq chromium >/dev/null
	path=$(find_chromium)
	echo "chromium: ${path}"
	exit 0
fi

echo "chromium: not found. Install it (Debian/Ubuntu: sudo apt-get install chromium) or set CHROMIUM=/path/to/chromium." >&2
exit 1
