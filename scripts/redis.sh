# shellcheck shell=bash
# Sourced by scripts/test. `ensure_redis` makes a Redis server available to
# the tests (the events relay's Redis sink) and exports TEST_REDIS_URL. If
# TEST_REDIS_URL is already set, that server is used. Otherwise a throwaway
# redis-server is started: loopback only, on a free port, keeping nothing on
# disk. `stop_redis` stops it again, but only if this shell started it.
# (A test that stops Redis on purpose starts a server of its own.)

REDIS_STARTED_HERE=0
REDIS_PID=""
REDIS_DIR=""

redis_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Whether a Redis server answers PING on loopback at port $1.
redis_answers() {
  python3 - "$1" <<'PY'
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1) as s:
        s.sendall(b"PING\r\n")
        sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

ensure_redis() {
  if [[ -n "${TEST_REDIS_URL:-}" ]]; then
    return 0
  fi
  if ! command -v redis-server >/dev/null; then
    echo "redis-server not found; install it (Debian: apt-get install redis-server)" >&2
    return 1
  fi
  local port tries=0
  port="$(redis_free_port)"
  REDIS_DIR="$(mktemp -d)"
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --daemonize no --dir "$REDIS_DIR" >"$REDIS_DIR/server.log" 2>&1 &
  REDIS_PID=$!
  REDIS_STARTED_HERE=1
  until redis_answers "$port"; do
    tries=$((tries + 1))
    if [[ "$tries" -gt 50 ]] || ! kill -0 "$REDIS_PID" 2>/dev/null; then
      echo "redis-server on port $port did not start; its log ends with:" >&2
      tail -n 20 "$REDIS_DIR/server.log" >&2 || true
      stop_redis
      return 1
    fi
    sleep 0.2
  done
  export TEST_REDIS_URL="redis://127.0.0.1:$port"
  echo "Started redis-server (port $port)"
}

stop_redis() {
  if [[ "$REDIS_STARTED_HERE" -eq 1 ]]; then
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    rm -rf "$REDIS_DIR"
    REDIS_STARTED_HERE=0
  fi
}
