#!/usr/bin/env bash
# Smoke test of lesson l3-36's real signal handling: start the built example in `--serve`
# mode, check its endpoints over loopback, send it SIGTERM, and check that it drains and
# exits with status 0. (The job-duration histogram, cumulative with +Inf = _count, is lesson
# l3-32's, which checks it itself.)
#
# Usage:
#   level-3-advanced/scripts/sigterm-smoke.sh target/release/examples/l3-36-serve-until-sigterm
#
# Builds nothing: pass the path of an already built example binary. Uses curl when it is
# installed, bash's /dev/tcp otherwise. Prints PASS or FAIL; exits non-zero on failure. The
# service is killed on any failure, so no process is left behind.
set -euo pipefail

# Seconds to wait for the `listening on` line, and for the exit after SIGTERM.
START_TIMEOUT=30
EXIT_TIMEOUT=30

bin=${1:-}
if [[ -z $bin || ! -x $bin ]]; then
    echo "usage: $0 PATH-TO-BUILT-l3-36-serve-until-sigterm" >&2
    echo "FAIL: ${bin:-no path given} is not an executable file" >&2
    exit 2
fi

out=$(mktemp)
pid=
cleanup() {
    # On any way out: if the service is still running, kill it and reap it.
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -f "$out"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    echo "--- the service's output:" >&2
    cat "$out" >&2 || true
    exit 1
}

# GET over loopback; prints the whole response (status line, headers, body).
http_get() {
    local port=$1 path=$2
    if command -v curl >/dev/null 2>&1; then
        curl --silent --show-error --include --max-time 5 "http://127.0.0.1:$port$path"
    else
        # bash's /dev/tcp; `timeout` bounds the read in case the server never closes.
        timeout 5 bash -c '
            exec 3<>"/dev/tcp/127.0.0.1/$1"
            printf "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" "$2" >&3
            cat <&3
        ' _ "$port" "$path"
    fi
}

# 1. Start it, with an OS-chosen port, no stdin.
PORT=0 "$bin" --serve </dev/null >"$out" 2>&1 &
pid=$!

# 2. Wait (bounded) for the port.
port=
for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
        fail "the service exited before it was listening"
    fi
    port=$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$out" | head -n 1 | cut -d: -f2 || true)
    [[ -n $port ]] && break
    sleep 0.1
done
[[ -n $port ]] || fail "no 'listening on' line within ${START_TIMEOUT} s"
echo "service pid $pid listening on 127.0.0.1:$port"

# 3. Its endpoints.
health=$(http_get "$port" /healthz) || fail "GET /healthz failed"
[[ $health == "HTTP/1.1 200"* && $health == *ok* ]] || fail "/healthz answered: $health"
ready=$(http_get "$port" /readyz) || fail "GET /readyz failed"
[[ $ready == "HTTP/1.1 200"* ]] || fail "/readyz answered: $ready"
metrics=$(http_get "$port" /metrics) || fail "GET /metrics failed"
[[ $metrics == "HTTP/1.1 200"* ]] || fail "/metrics answered: ${metrics:0:200}"
for line in '# TYPE app_jobs_submitted_total counter' '# TYPE app_jobs_completed_total counter' \
    '# TYPE app_ready gauge' 'app_ready 1'; do
    [[ $metrics == *"$line"* ]] || fail "/metrics has no line with: $line"
done
# The service submits a batch of 24 jobs before it answers: all of them were counted.
submitted=$(grep -o '^app_jobs_submitted_total [0-9]*' <<<"$metrics" | awk '{print $2}' || true)
[[ -n $submitted && $submitted -ge 24 ]] || fail "app_jobs_submitted_total is '$submitted', expected at least 24"
echo "/healthz, /readyz and /metrics answered 200; $submitted jobs submitted, ready"

# 4. SIGTERM, then wait (bounded) for the exit.
kill -TERM "$pid"
for ((i = 0; i < EXIT_TIMEOUT * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
    fail "still running ${EXIT_TIMEOUT} s after SIGTERM"
fi
status=0
wait "$pid" || status=$?
pid=
[[ $status -eq 0 ]] || fail "exit status $status after SIGTERM, expected 0"
grep -q 'received SIGTERM' "$out" || fail "the output does not show SIGTERM being received"
grep -q 'drain complete' "$out" || fail "the output does not show the drain"
grep -q '^result: ' "$out" || fail "the output has no result line"

grep -E 'received SIGTERM|draining|drain complete|^result: ' "$out"
echo "PASS: SIGTERM drained the service and it exited with status 0"
