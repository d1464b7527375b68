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
