#!/usr/bin/env bash
# Installs the system tools the test suite needs, each only when it is missing
# (`sysdeps.sh venv` installs Python's venv module instead, for `make demo` on a bare Debian):
#   chromium   the browser tests drive Debian's Chromium (never a downloaded browser)
#   libatomic1 Playwright's driver needs it
#   node, npm  the independent OCPP peers under tests/interop
#   mosquitto  the MQTT broker the integration tests start on loopback
# A Node.js that already brings its own npm is left alone: Debian's `npm` package conflicts with
# such builds, so apt is only asked for it next to Debian's own `nodejs`.
# Prints what it found and what it installed, so a CI log shows what a fresh machine needed.
set -uo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
found=()
installed=()
updated=0

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

apt_install() {
	local pkg="$1" why="$2"
	if [ "$updated" = 0 ]; then
		echo "sysdeps: apt-get update"
		if ! $SUDO apt-get update -qq; then
			echo "sysdeps: 'apt-get update' failed, so $pkg ($why) cannot be installed." >&2
			exit 1
		fi
		updated=1
	fi
	echo "sysdeps: installing $pkg ($why)"
	if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"$pkg" >/tmp/ampshare-apt-$pkg.log 2>&1; then
		tail -n 5 "/tmp/ampshare-apt-$pkg.log" >&2
		echo "sysdeps: could not install the Debian package '$pkg' ($why); see the apt lines above." >&2
		exit 1
	fi
	installed+=("$pkg")
}

# `sysdeps.sh venv`: only Python's venv module, which Debian ships apart from python3.
if [ "${1:-}" = venv ]; then
	py="${PYTHON:-python3}"
	ver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
	apt_install "python$ver-venv" "Python's venv module for .venv"
	exit 0
fi

# Chromium for the browser tests, and libatomic, which Playwright's bundled driver links against
# (a minimal Debian lacks it).
if have chromium; then found+=("chromium"); else apt_install chromium "browser tests"; fi
if /sbin/ldconfig -p 2>/dev/null | grep -q 'libatomic\.so\.1 '; then
	found+=("libatomic1")
else
	apt_install libatomic1 "Playwright's browser driver"
fi

# Node.js and npm for the OCPP interop peers.
if have node; then
	found+=("node $(node --version 2>/dev/null)")
	if have npm; then
		found+=("npm $(npm --version 2>/dev/null)")
	elif dpkg-query -W -f='${Version}' nodejs 2>/dev/null | grep -qv nodesource; then
		apt_install npm "OCPP interop peers, next to Debian's nodejs"
	else
		echo "sysdeps: 'node' is installed but has no 'npm' beside it, and Debian's npm would" \
			"conflict with this Node.js build. Install npm for it, then run make test again." >&2
		exit 1
	fi
else
	apt_install nodejs "OCPP interop peers"
	if ! have npm; then apt_install npm "OCPP interop peers"; fi
fi

# Mosquitto for the MQTT tests.
if have mosquitto; then found+=("mosquitto"); else apt_install mosquitto "MQTT tests"; fi

echo "sysdeps: found: ${found[*]:-nothing}"
echo "sysdeps: installed: ${installed[*]:-nothing}"
