# Shared helpers for the scripts in scripts/ (sourced, not run).

log() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else echo "Need root to run: $*" >&2; return 1; fi
}

apt_updated=false
# Installs Debian packages (as root), running apt-get update once first.
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "Missing $*, and this machine has no apt-get: install it by hand." >&2
    return 1
  fi
  if [[ $apt_updated == false ]]; then
    as_root apt-get update -qq
    apt_updated=true
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Prints the path of a python3 that has the 'cryptography' package (scripts/sign-claim.py, the
# tests' independent JOSE signer): the first python3 on PATH, else Debian's /usr/bin/python3 (a
# pyenv or virtualenv python3 ahead of it on PATH may lack the package).
find_python() {
  local candidate
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import cryptography' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

# Sets crypto_python to such a python3, installing Debian's python3-cryptography (as root) when
# none has the package; exits when there is still none.
need_crypto_python() {
  crypto_python="$(find_python)" && return 0
  log "Installing Python's cryptography package"
  apt_install python3 python3-cryptography
  crypto_python="$(find_python)" || { echo "No python3 with the cryptography package." >&2; exit 1; }
}
