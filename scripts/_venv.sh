# shellcheck shell=bash
# Bootstrap shared by scripts/run, scripts/test, scripts/check, scripts/install-smoke and .ci/run: sourced from the
# repository root, not run. A fresh machine may lack python3's venv module (Debian ships it as python3-venv) and
# the browser the tests drive; these install what they can from Debian's packages, as root or with sudo.

# as_root CMD...: CMD as root, directly or through sudo; fails (running nothing) when neither is possible.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    return 1
  fi
}

# apt_install PACKAGE...: installs Debian packages quietly; fails when there is no apt-get or no way to be root.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  { [ "$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; } || return 1
  as_root apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ensure_python: python3 exists, is >= 3.11, and can create virtual environments (installing python3-venv when
# it cannot and we may); otherwise one line on stderr saying what to install, and exit 1.
ensure_python() {
  if ! command -v python3 >/dev/null 2>&1; then
    echo "$0: python3 not found: install Python >= 3.11 (Debian: apt-get install python3 python3-venv), then run again." >&2
    exit 1
  fi
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "$0: $(python3 --version 2>&1) is too old: clevertap-mcp needs Python >= 3.11 as python3 on PATH." >&2
    exit 1
  fi
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    echo "$0: python3 cannot create virtual environments; installing Debian's python3-venv…" >&2
    if ! apt_install python3-venv || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
      echo "$0: python3 has no venv module: install it (Debian/Ubuntu: sudo apt-get install python3-venv), then run again." >&2
      exit 1
    fi
  fi
}

# ensure_venv [DIR]: a working virtual environment in DIR (default .venv), created on first use. One left without
# pip (python3 -m venv failing half-way, as it does without python3-venv) is created again.
ensure_venv() {
  local dir="${1:-.venv}"
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c 'import pip' 2>/dev/null; then
    return 0
  fi
  ensure_python
  python3 -m venv --clear "$dir"
}
