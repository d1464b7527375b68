# Shared set-up of the benchmark scripts (sourced after common.sh and postgres.sh): a Release
# build, a temporary work folder, the store for the chosen engine, the API started on a free
# loopback port, and everything torn down on exit (Ctrl-C and SIGTERM end the script, and so tear
# down too). The caller sets `usage` first.

bench_setup() {
  local engine="$1"
  bench_engine="$engine"
  dotnet build ConsentRegistry.sln -c Release --nologo -v quiet
  work="$(mktemp -d -t registry-bench.XXXXXX)"
  api_pid=""
  bench_traps
  case "$engine" in
    sqlite) export Registry__Database__Provider=sqlite Registry__Database__ConnectionString="Data Source=$work/registry.db" ;;
    postgres)
      start_postgres
      export Registry__Database__Provider=postgres Registry__Database__ConnectionString="$pg_connection_string" ;;
    *) echo "usage: $usage" >&2; exit 2 ;;
  esac
  # The benchmarks' claims name URLs on hosts that do not exist: the fingerprint worker would
  # spend CPU queueing and failing their fetches. benchmarks/fingerprint.sh turns it on.
  export Registry__Worker__Enabled=false
  port="$(free_port)"
  target="http://127.0.0.1:$port"
}

# Cleans up on exit; a signal ends the script (a trap that only cleaned up would let the benchmark
# go on against a server it had just stopped, and exit 0).
bench_traps() {
  trap bench_finish EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Stops the API, the image server and PostgreSQL and removes the work folder; safe to run again.
bench_finish() {
  if [[ -n ${api_pid:-} ]]; then kill "$api_pid" 2>/dev/null || true; api_pid=""; fi
  if [[ -n ${image_server_pid:-} ]]; then kill "$image_server_pid" 2>/dev/null || true; image_server_pid=""; fi
  stop_postgres
  if [[ -n ${work:-} ]]; then rm -rf "$work"; fi
}

# Starts the Release API in the background on $target, logging to $work/api.log.
start_api() {
  dotnet src/ConsentRegistry.Api/bin/Release/net10.0/ConsentRegistry.Api.dll --urls "$target" >>"$work/api.log" 2>&1 &
  api_pid=$!
}

# Waits for /health/ready: 60 s, or the seconds given (a build from a large store takes minutes);
# gives up at once when the API's process has exited.
wait_ready() {
  local tries=$(( ${1:-60} * 20 ))
  for _ in $(seq "$tries"); do
    curl -sf "$target/health/ready" >/dev/null && return 0
    if ! kill -0 "$api_pid" 2>/dev/null; then
      echo "the API exited before it got ready; the end of its log:" >&2; tail -50 "$work/api.log" >&2; return 1
    fi
    sleep 0.05
  done
  echo "the API did not get ready; the end of its log:" >&2; tail -50 "$work/api.log" >&2; return 1
}

# The store's size on disk: the SQLite files, or the PostgreSQL database (catalogs included).
store_size() {
  if [[ $bench_engine == sqlite ]]; then
    du -cb "$work"/registry.db* | tail -n 1 | awk '{printf "%.1f MiB", $1/1048576}'
  else
    PGPASSWORD="$pg_password" "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -Atc "SELECT pg_database_size('postgres')" | awk '{printf "%.1f MiB", $1/1048576}'
  fi
}

loadgen() { dotnet benchmarks/ConsentRegistry.LoadGen/bin/Release/net10.0/ConsentRegistry.LoadGen.dll "$@"; }

# Serves a folder over HTTP on every loopback address (Python's http.server) and sets $image_port once it
# answers for <path>; bench_finish stops it. free_port's port can be taken before the server binds it, and then
# the server exits: each try waits until it answers (up to 10 s) or has exited, and a new port is tried, three
# times in all.
serve_images() {
  local folder="$1" probe="$2" attempt
  for attempt in 1 2 3; do
    image_port="$(free_port)"
    (cd "$folder" && exec python3 -m http.server "$image_port" --bind 0.0.0.0 >"$work/images.log" 2>&1) &
    image_server_pid=$!
    for _ in $(seq 100); do
      kill -0 "$image_server_pid" 2>/dev/null || break
      curl -sf -o /dev/null "http://127.0.0.1:$image_port/$probe" && break
      sleep 0.1
    done
    if kill -0 "$image_server_pid" 2>/dev/null && curl -sf -o /dev/null "http://127.0.0.1:$image_port/$probe"; then return 0; fi
    echo "the image server did not serve on port $image_port (attempt $attempt of 3); its log:" >&2
    cat "$work/images.log" >&2
    kill "$image_server_pid" 2>/dev/null || true
    image_server_pid=""
  done
  return 1
}
