#!/usr/bin/env bash
# Make sure the local PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer.
# A service that is down is started with its usual command when that command exists;
# nothing is ever installed. Waits up to SERVICES_TIMEOUT seconds (default 30) for each.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
TIMEOUT="${SERVICES_TIMEOUT:-30}"

log() { printf 'services: %s\n' "$*"; }
die() {
  printf 'services: error: %s\n' "$*" >&2
  exit 1
}

# Plain TCP probe, used only when the service's own client is not installed.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

postgres_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
  else
    port_open "$PG_HOST" "$PG_PORT"
  fi
}

redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    [[ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]
  else
    port_open "$REDIS_HOST" "$REDIS_PORT"
  fi
}

start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    return 1
  fi
  local conf version started=1
  for conf in /etc/postgresql/*/main; do
    [[ -d "$conf" ]] || continue
    version="$(basename "$(dirname "$conf")")"
    log "starting PostgreSQL $version: pg_ctlcluster --skip-systemctl-redirect $version main start"
    # A failure here ("already running", wrong port) is judged by the wait below.
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    started=0
  done
  return "$started"
}

start_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    return 1
  fi
  log "starting Redis: redis-server --daemonize yes --bind $REDIS_HOST --port $REDIS_PORT"
  redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" \
    --save "" --appendonly no >/dev/null || true
}

wait_for() {
  local name="$1" probe="$2" deadline=$((SECONDS + TIMEOUT))
  until "$probe"; do
    if ((SECONDS >= deadline)); then
      die "$name did not come up within ${TIMEOUT}s (see the start command output above)"
    fi
    sleep 0.5
  done
}

ensure() {
  local name="$1" where="$2" probe="$3" starter="$4" how="$5"
  if "$probe"; then
    log "$name is up at $where"
    return
  fi
  log "$name is not reachable at $where"
  if ! "$starter"; then
    die "$name is not reachable at $where and cannot be started here ($how not found); start it yourself"
  fi
  wait_for "$name at $where" "$probe"
  log "$name is up at $where"
}

ensure PostgreSQL "$PG_HOST:$PG_PORT" postgres_up start_postgres \
  "pg_ctlcluster or a cluster in /etc/postgresql"
ensure Redis "$REDIS_HOST:$REDIS_PORT" redis_up start_redis "redis-server"
