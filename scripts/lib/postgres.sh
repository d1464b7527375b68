# A throwaway PostgreSQL cluster: temporary directory, free port on 127.0.0.1, user postgres with a
# random password over TCP (SCRAM, as production servers ask; trust on its own Unix socket only),
# durable settings (fsync on). Sourced after common.sh.
#   start_postgres   sets pg_port and pg_connection_string; installs PostgreSQL when initdb is missing
#   stop_postgres    stops it and removes its directory (also done on exit, and so on Ctrl-C or
#                    SIGTERM, which end the script)

pg_bin=""
pg_dir=""
pg_port=""
pg_connection_string=""
pg_password=""
pg_user_run=()

find_pg_bin() {
  local initdb
  initdb="$(command -v initdb || true)"
  if [[ -z $initdb ]]; then
    initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
  fi
  [[ -n $initdb ]] && pg_bin="$(dirname "$(readlink -f "$initdb")")"
}

stop_postgres() {
  if [[ -n $pg_dir && -d $pg_dir ]]; then
    "${pg_user_run[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
  pg_dir=""
}
# A signal ends the script (a trap that only cleaned up would let it go on without its server);
# the EXIT trap then stops the cluster.
trap stop_postgres EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_postgres() {
  find_pg_bin
  if [[ -z $pg_bin ]]; then
    log "Installing PostgreSQL (initdb not found)"
    apt_install postgresql
    find_pg_bin
  fi
  [[ -n $pg_bin ]] || { echo "initdb still not found after installing PostgreSQL." >&2; exit 1; }

  pg_dir="$(mktemp -d -t registry-pg.XXXXXX)"
  # PostgreSQL refuses to run as root: use the postgres system user (made by Debian's package).
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    chown postgres "$pg_dir"
    pg_user_run=(runuser -u postgres --)
  else
    pg_user_run=(env)
  fi

  log "Starting a throwaway PostgreSQL cluster ($("$pg_bin/postgres" --version)) in $pg_dir"
  pg_password="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
  printf '%s\n' "$pg_password" >"$pg_dir/pwfile"
  chmod 600 "$pg_dir/pwfile"
  [[ $(id -u) -eq 0 ]] && chown postgres "$pg_dir/pwfile"
  "${pg_user_run[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile="$pg_dir/pwfile" -E UTF8 --locale=C.UTF-8 >"$pg_dir/initdb.log" 2>&1 \
    || { cat "$pg_dir/initdb.log" >&2; exit 1; }
  rm -f "$pg_dir/pwfile"
  # free_port's port is free when asked, not when the server binds it: another process may take
  # it in between, so a failed start is tried again on a new port, three times in all. The
  # socket directory is quoted for pg_ctl's shell (a temporary directory may have spaces).
  local attempt
  for attempt in 1 2 3; do
    pg_port="$(free_port)"
    if "${pg_user_run[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories='$pg_dir' -c max_connections=300 -c fsync=on -c synchronous_commit=on" start >/dev/null; then
      break
    fi
    echo "PostgreSQL did not start on port $pg_port (attempt $attempt of 3); its log:" >&2
    cat "$pg_dir/server.log" >&2 || true
    # A server still starting when pg_ctl gave up must not hold the data directory.
    "${pg_user_run[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -f "$pg_dir/server.log"
    [[ $attempt -lt 3 ]] || exit 1
  done
  log "PostgreSQL listening on 127.0.0.1:$pg_port"
  pg_connection_string="Host=127.0.0.1;Port=$pg_port;Username=postgres;Password=$pg_password;Database=postgres"
}
