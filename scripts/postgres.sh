# shellcheck shell=bash
# Sourced by scripts/test and scripts/run. `ensure_postgres` makes a
# PostgreSQL server available and exports DATABASE_ADMIN_URL (a superuser
# connection). If DATABASE_ADMIN_URL is already set, that server is used.
# With a cluster of its own it also exports TEST_DATABASE_LOG, the server's
# log file, which tests read to see what PostgreSQL logs.
# Otherwise a throwaway cluster lives in $REPO/.dev/pg: loopback only, trust
# authentication, fsync off; it is reused while it runs. `stop_postgres`
# stops it again, but only if this shell started it.

PG_REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
PG_DIR="$PG_REPO/.dev/pg"
PG_DATA="$PG_DIR/data"
PG_PORT_FILE="$PG_DIR/port"
PG_LOG="$PG_DIR/server.log"
PG_STARTED_HERE=0
PG_BIN=""

# The folder with initdb and pg_ctl: PATH first, else the newest
# /usr/lib/postgresql/<version>/bin (where Debian and Ubuntu put them).
pg_find_bin() {
  local ctl dir
  if ctl="$(command -v pg_ctl)" && command -v initdb >/dev/null; then
    PG_BIN="$(dirname "$(readlink -f "$ctl")")"
    return 0
  fi
  dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
  if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
    PG_BIN="$dir"
    return 0
  fi
  return 1
}

# initdb and postgres refuse to run as root: as root, the cluster belongs to
# the `postgres` user (created if missing).
pg_as_owner() {
  if [[ "$(id -u)" -ne 0 ]]; then
    "$@"
  elif command -v runuser >/dev/null; then
    runuser -u postgres -- "$@"
  else
    su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
  fi
}

pg_prepare_owner() {
  [[ "$(id -u)" -eq 0 ]] || return 0
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir "$PG_DIR" --shell /bin/sh postgres
  fi
  chown -R postgres: "$PG_DIR"
  if ! pg_as_owner test -w "$PG_DIR"; then
    # A checkout under a folder closed to other users (e.g. /root): keep the
    # cluster in a folder of its own under /tmp instead.
    pg_use_dir "/tmp/todo-spin-pg-$(printf '%s' "$PG_REPO" | cksum | cut -d' ' -f1)"
    mkdir -p "$PG_DIR"
    chown -R postgres: "$PG_DIR"
    if ! pg_as_owner test -w "$PG_DIR"; then
      echo "the postgres user cannot write $PG_DIR" >&2
      return 1
    fi
  fi
}

pg_use_dir() {
  PG_DIR="$1"
  PG_DATA="$PG_DIR/data"
  PG_PORT_FILE="$PG_DIR/port"
  PG_LOG="$PG_DIR/server.log"
}

pg_free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    return
  fi
  local port
  for port in $(seq 54320 54420); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  echo "no free port between 54320 and 54420" >&2
  return 1
}

pg_export_url() {
  PG_PORT="$(cat "$PG_PORT_FILE")"
  export PG_PORT
  export DATABASE_ADMIN_URL="postgres://postgres@127.0.0.1:${PG_PORT}/postgres?sslmode=disable"
  export TEST_DATABASE_LOG="$PG_LOG"
}

ensure_postgres() {
  if [[ -n "${DATABASE_ADMIN_URL:-}" ]]; then
    pg_find_bin || true
    return 0
  fi
  if ! pg_find_bin; then
    echo "PostgreSQL server binaries (initdb, pg_ctl) not found; install them, e.g. apt-get install postgresql" >&2
    return 1
  fi

  mkdir -p "$PG_DIR"
  pg_prepare_owner

  if [[ -f "$PG_PORT_FILE" ]] && pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    pg_export_url
    echo "Using the running PostgreSQL in $PG_DIR (port $PG_PORT)"
    return 0
  fi

  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    pg_as_owner "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust \
      --encoding=UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 || {
      cat "$PG_DIR/initdb.log" >&2
      return 1
    }
    # Unix socket paths are limited to about 100 bytes; deep checkouts go TCP-only.
    local sockets=""
    if [[ "${#PG_DIR}" -lt 80 ]]; then
      sockets="$PG_DIR/run"
      mkdir -p "$sockets"
      [[ "$(id -u)" -ne 0 ]] || chown postgres: "$sockets"
    fi
    # A throwaway cluster for tests and development: speed over durability.
    pg_as_owner tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF

# added by scripts/postgres.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockets'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  fi

  local port
  port="$(pg_free_port)"
  echo "$port" >"$PG_PORT_FILE"
  if ! pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -o "-p $port" -w -t 60 start >/dev/null; then
    echo "PostgreSQL did not start; its log ($PG_LOG) ends with:" >&2
    tail -n 20 "$PG_LOG" >&2 || true
    return 1
  fi
  if [[ -x "$PG_BIN/pg_isready" ]]; then
    local tries=0
    until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; do
      tries=$((tries + 1))
      if [[ "$tries" -gt 60 ]]; then
        echo "PostgreSQL on port $port is not ready after 30 s; see $PG_LOG" >&2
        return 1
      fi
      sleep 0.5
    done
  fi
  PG_STARTED_HERE=1
  pg_export_url
  echo "Started PostgreSQL in $PG_DIR (port $PG_PORT)"
}

stop_postgres() {
  if [[ "$PG_STARTED_HERE" -eq 1 ]]; then
    pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null || true
    PG_STARTED_HERE=0
  fi
}

# psql from the server's folder if there is one, else from PATH.
pg_psql() {
  if [[ -n "$PG_BIN" && -x "$PG_BIN/psql" ]]; then
    "$PG_BIN/psql" "$@"
  else
    psql "$@"
  fi
}
