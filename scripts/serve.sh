# shellcheck shell=bash
# Sourced by the scripts that drive the whole app over HTTP (scripts/fuzz and
# the browser and MCP end-to-end tests). `serve_start` serves the app natively
# (the devserver: the same handlers as under Spin) over a fresh, migrated
# database and exports BASE (its URL), SERVER_PID and SERVER_LOG; the LLM
# origins point at a closed port on loopback, so nothing leaves the machine.
# `serve_stop` stops the server and drops the database. Needs REPO set and
# scripts/postgres.sh sourced; starts PostgreSQL with `ensure_postgres`.
#
#   serve_start <log-dir>

SERVE_DB_NAME=""
SERVER_PID=""
SERVER_LOG=""
BASE=""

serve_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

serve_die() {
  printf 'serve: %s\n' "$*" >&2
  exit 1
}

serve_start() {
  local log_dir="$1"
  for tool in python3 curl; do
    command -v "$tool" >/dev/null || serve_die "$tool not found; install it (Debian: apt-get install $tool)"
  done
  ensure_postgres
  # The app's db_* variables, taken apart from the admin URL.
  eval "$(python3 - "$DATABASE_ADMIN_URL" <<'PY'
import shlex, sys
from urllib.parse import parse_qs, unquote, urlsplit
url = urlsplit(sys.argv[1])
query = parse_qs(url.query)
for name, value in (
    ("DB_HOST", url.hostname or "127.0.0.1"),
    ("DB_PORT", str(url.port or 5432)),
    ("DB_USER", unquote(url.username or "postgres")),
    ("DB_PASSWORD", unquote(url.password or "")),
    ("DB_SSLMODE", query.get("sslmode", ["disable"])[0]),
):
    print(f"export SPIN_VARIABLE_{name}={shlex.quote(value)}")
PY
)"
  SERVE_DB_NAME="e2e_$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
  export SPIN_VARIABLE_DB_NAME="$SERVE_DB_NAME"
  pg_psql "$DATABASE_ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$SERVE_DB_NAME\"" >/dev/null

  local port closed_port
  port="$(serve_free_port)"
  # Nothing listens there: readiness finds the LLM tiers down at once, on loopback.
  closed_port="$(serve_free_port)"
  BASE="http://127.0.0.1:$port"
  export BASE
  export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"
  export SPIN_VARIABLE_JWT_SECRET
  SPIN_VARIABLE_JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
  export SPIN_VARIABLE_OLLAMA_URL="${SPIN_VARIABLE_OLLAMA_URL:-http://127.0.0.1:$closed_port}"
  export SPIN_VARIABLE_QWEN_URL="${SPIN_VARIABLE_QWEN_URL:-http://127.0.0.1:$closed_port}"
  export SPIN_VARIABLE_QWEN_API_KEY="${SPIN_VARIABLE_QWEN_API_KEY:-}"
  export SPIN_VARIABLE_CORS_ALLOWED_ORIGINS="${SPIN_VARIABLE_CORS_ALLOWED_ORIGINS:-}"
  # The internal routes (reminder sweep, events relay) are on, with a token
  # of this run that the suites may use as INTERNAL_TOKEN.
  export SPIN_VARIABLE_INTERNAL_TOKEN INTERNAL_TOKEN
  SPIN_VARIABLE_INTERNAL_TOKEN="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
  INTERNAL_TOKEN="$SPIN_VARIABLE_INTERNAL_TOKEN"

  # The devserver and migrate binaries that scripts/test's `cargo test
  # --workspace` built for the integration tests (the same command, so a
  # no-op after it; `cargo build -p native` would resolve features apart and
  # build a second copy of everything), run directly so that serve_stop can
  # stop the server.
  local binaries devserver migrate
  binaries="$(cargo test -q --workspace --no-run \
    --message-format=json-render-diagnostics | python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if (message.get("reason") == "compiler-artifact" and message.get("executable")
            and message["target"]["kind"] == ["bin"] and not message["profile"]["test"]):
        print(message["target"]["name"], message["executable"])
')"
  devserver="$(awk '$1 == "devserver" { print $2 }' <<<"$binaries")"
  migrate="$(awk '$1 == "migrate" { print $2 }' <<<"$binaries")"
  [[ -x "$devserver" && -x "$migrate" ]] || serve_die "cannot find the devserver and migrate binaries"

  mkdir -p "$log_dir"
  "$migrate" >"$log_dir/migrate.log" 2>&1 || {
    cat "$log_dir/migrate.log" >&2
    serve_die "migrations failed"
  }
  SERVER_LOG="$log_dir/devserver.log"
  "$devserver" --listen "127.0.0.1:$port" >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "$BASE/health" && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      cat "$SERVER_LOG" >&2
      serve_die "the devserver stopped before answering /health"
    fi
    sleep 0.2
  done
  curl -sf -o /dev/null "$BASE/health" || serve_die "the devserver does not answer $BASE/health"
}

serve_stop() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
  if [[ -n "$SERVE_DB_NAME" ]]; then
    pg_psql "$DATABASE_ADMIN_URL" -qX -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS \"$SERVE_DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 ||
      echo "serve: could not drop database $SERVE_DB_NAME" >&2
  fi
  SERVE_DB_NAME=""
}

# Prints the server's non-JSON output (a panic, say): request lines are JSON.
serve_show_log() {
  if [[ -n "$SERVER_LOG" ]] && grep -qv -e '^{' -e '^Serving ' "$SERVER_LOG"; then
    echo "the devserver also said:" >&2
    grep -v -e '^{' -e '^Serving ' "$SERVER_LOG" | tail -n 40 >&2
  fi
}
