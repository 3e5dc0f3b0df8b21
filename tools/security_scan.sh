#!/usr/bin/env bash
# Scan Cairn as an outside attacker would: static (bandit, semgrep) and dynamic (wapiti, sqlmap against a
# local instance signed in as each role). The scanners are NOT project dependencies: they go in their own venv
# (SCAN_VENV, default .scanvenv, git-ignored). Reports land in SCAN_OUT (default scan-reports/).
# What was found and what was done about it: docs/security-scan.md.
#
#   tools/security_scan.sh            # everything (about 15 minutes on 2 cores)
#   tools/security_scan.sh static     # bandit + semgrep only
#   tools/security_scan.sh dynamic    # wapiti + sqlmap only
#
# The instance: gunicorn on 127.0.0.1:$SCAN_PORT (default 5601), SQLite and storage in a temp dir, demo data
# loaded as `make run` does, no Redis (embedded queue). Nothing but loopback is ever scanned.
# Semgrep: the registry packs (p/python, p/flask) when the registry answers; else the rules under
# $SEMGREP_RULES_DIR (a checkout of github.com/semgrep/semgrep-rules: its python/ folder); else skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WHAT=${1:-all}
PYTHON=${PYTHON:-python3.11}
SCAN_VENV=${SCAN_VENV:-$ROOT/.scanvenv}
SCAN_OUT=${SCAN_OUT:-$ROOT/scan-reports}
SCAN_PORT=${SCAN_PORT:-5601}
APP_PYTHON=${APP_PYTHON:-$ROOT/.venv/bin/python}   # the project's venv (make install)
# Versions used for docs/security-scan.md. wapiti3 3.3 needs Python >= 3.12; 3.2.3 is the last for 3.11.
BANDIT=bandit==1.9.4 SEMGREP=semgrep==1.185.0 WAPITI=wapiti3==3.2.3 SQLMAP=sqlmap==1.10.10
# wapiti per role: --max-scan-time bounds the whole scan only loosely (each attack module also gets up to
# WAPITI_ATTACK_SECONDS, 13 modules): about 5 minutes a role on 2 shared cores.
WAPITI_SCAN_SECONDS=${WAPITI_SCAN_SECONDS:-120}
WAPITI_ATTACK_SECONDS=${WAPITI_ATTACK_SECONDS:-20}
SQLMAP_SECONDS=${SQLMAP_SECONDS:-120} # per target (each took 5-30 s here)
mkdir -p "$SCAN_OUT"

install_scanners() {
    [ -x "$SCAN_VENV/bin/python" ] || "$PYTHON" -m venv "$SCAN_VENV"
    "$SCAN_VENV/bin/pip" install -q "$BANDIT" "$WAPITI" "$SQLMAP"
    # semgrep pins its own dependency versions: a venv of its own
    [ -x "$SCAN_VENV/semgrep/bin/python" ] || "$PYTHON" -m venv "$SCAN_VENV/semgrep"
    "$SCAN_VENV/semgrep/bin/pip" install -q "$SEMGREP"
}

static_scan() {
    echo "== bandit (medium and above)"
    "$SCAN_VENV/bin/bandit" -r app -ll -f txt -o "$SCAN_OUT/bandit.txt" >/dev/null 2>&1 || true
    sed -n '/Test results/,/Code scanned/p' "$SCAN_OUT/bandit.txt"
    echo "== semgrep"
    local sg="$SCAN_VENV/semgrep/bin/semgrep" configs=()
    if timeout 60 "$sg" scan --metrics=off --disable-version-check --config p/flask --validate >/dev/null 2>&1; then
        configs=(--config p/python --config p/flask)
    elif [ -n "${SEMGREP_RULES_DIR:-}" ] && [ -d "$SEMGREP_RULES_DIR/python" ]; then
        local r="$SEMGREP_RULES_DIR/python"
        # the rules' own test fixtures (*.py) are not rules
        configs=(--config "$r/flask" --config "$r/lang" --config "$r/sqlalchemy" --config "$r/jinja2"
                 --config "$r/requests" --config "$r/cryptography" --config "$r/jwt")
    else
        echo "semgrep: the registry is unreachable and SEMGREP_RULES_DIR is not set: skipped"
        return 0
    fi
    "$sg" scan --metrics=off --disable-version-check -j 1 "${configs[@]}" --json -o "$SCAN_OUT/semgrep.json" app \
        > "$SCAN_OUT/semgrep.log" 2>&1 || true
    "$SCAN_VENV/bin/python" - "$SCAN_OUT/semgrep.json" <<'EOF'
import collections, json, sys
results = json.load(open(sys.argv[1]))["results"]
for (rule, severity), n in collections.Counter(
        (r["check_id"].rsplit(".", 1)[-1], r["extra"]["severity"]) for r in results).most_common():
    print(f"{n:5d} {severity:8s} {rule}")
EOF
}

start_instance() {
    WORK=$(mktemp -d /tmp/cairn-scan.XXXXXX)
    export CAIRN_ENV=development FLASK_APP=wsgi.py DATABASE_URL="sqlite:///$WORK/cairn.sqlite3" \
        STORAGE_DIR="$WORK/storage" REDIS_URL="" MAIL_SERVER="" USAGE_LOG_ENABLED=false
    # Scanners fire hundreds of wrong forms: keep the sign-in backoff out of the way of the scan's own logins.
    export LOGIN_FREE_FAILURES=100000 PASSWORD_RESET_MAX_PER_IP=100000 PASSWORD_RESET_MAX_PER_ADDRESS=100000
    "$APP_PYTHON" -m flask db upgrade >/dev/null
    "$APP_PYTHON" -m flask seed-demo >/dev/null
    "$APP_PYTHON" -m gunicorn --workers 1 --threads 4 --bind "127.0.0.1:$SCAN_PORT" \
        wsgi:app >"$SCAN_OUT/server.log" 2>&1 &
    GUNICORN=$!
    trap 'kill $GUNICORN 2>/dev/null; rm -rf "$WORK"' EXIT
    for _ in $(seq 60); do curl -fs "http://127.0.0.1:$SCAN_PORT/signin" >/dev/null && return 0; sleep 1; done
    echo "the instance did not start"; exit 1
}

# The session cookie of a demo user, signed in through the real form.
session_cookie() {
    "$SCAN_VENV/bin/python" - "$SCAN_PORT" "$1" <<'EOF'
import http.cookiejar, re, sys, urllib.parse, urllib.request
port, email = sys.argv[1], sys.argv[2]
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
page = opener.open(f"http://127.0.0.1:{port}/signin").read().decode()
token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
data = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": "cairn-demo-password"}).encode()
opener.open(f"http://127.0.0.1:{port}/signin", data)
print(next(c.value for c in jar if c.name == "session"))
EOF
}

dynamic_scan() {
    start_instance
    local base="http://127.0.0.1:$SCAN_PORT"
    # sqlmap first: its GETs change nothing, while the wapiti crawls below submit forms (and delete rows).
    echo "== sqlmap (at most $SQLMAP_SECONDS s per target)"
    local cookie; cookie=$(session_cookie "admin@demo.example.com")
    local targets=(
        "$base/tickets/?q=printer&status=open&priority=high&tag=vpn&customer=casey&sort=-number"
        "$base/tickets/kb?q=password&category=accounts"
        "$base/tickets/1*"
        "$base/rules/names?q=web&rule_id=1&dimension=env&value=prod&status=all"
        "$base/projects/?q=thesis&tab=all"
        "$base/exports/?status=completed"
        "$base/exports/audit?action=download&user=1&since=2026-01-01"
        "$base/activity?action=sign_in"
        "$base/members?role=agent&q=ada"
    )
    for url in "${targets[@]}"; do
        echo "-- $url"
        timeout "$SQLMAP_SECONDS" "$SCAN_VENV/bin/sqlmap" -u "$url" --cookie "session=$cookie" --batch --level 1 --technique BEU \
            --risk 1 --threads 2 --skip-waf --random-agent --flush-session --disable-coloring \
            --output-dir "$SCAN_OUT/sqlmap" 2>&1 | grep -E "injectable|vulnerable|all tested parameters|CRITICAL|HTTP error code" || true
    done
    for role in anonymous customer agent manager admin; do
        echo "== wapiti as $role"
        local cookie_args=()
        if [ "$role" != anonymous ]; then
            cookie_args=(-C "session=$(session_cookie "$role@demo.example.com")")
        fi
        # Loopback only: no ssrf/xxe (they call out to wapiti's own servers); sign-out and session end are
        # excluded so the crawl keeps its session; nikto/buster need lists from outside;
        # timesql is left to sqlmap (slow); ldap is off: Cairn has no LDAP, and the module flags any form whose page
        # differs between two payloads (a CSRF token signed in another second, the 400 for its NUL payloads).
        "$SCAN_VENV/bin/wapiti" -u "$base/" --scope folder "${cookie_args[@]}" \
            -m "exec,file,sql,xss,redirect,crlf,csrf,permanentxss,methods,cookieflags,http_headers,csp,upload" \
            -x "$base/signout" -x "$base/preferences/sessions/*" -x "$base/organization/delete" \
            --max-scan-time "$WAPITI_SCAN_SECONDS" --max-attack-time "$WAPITI_ATTACK_SECONDS" --flush-session \
            -f json -o "$SCAN_OUT/wapiti-$role.json" --verbose 0 >"$SCAN_OUT/wapiti-$role.log" 2>&1 || true
        "$SCAN_VENV/bin/python" - "$SCAN_OUT/wapiti-$role.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
for family in ("vulnerabilities", "anomalies"):
    for name, items in report.get(family, {}).items():
        for item in items:
            print(f"  {family[:4]} {name}: {item.get('method')} {item.get('path')} {item.get('parameter', '')} "
                  f"level={item.get('level')} {item.get('info', '')[:120]}")
EOF
    done
    echo "== server errors during the scan (each one is a finding: no input may cause a 500)"
    grep -o 'Exception on [^ ]* \[[A-Z]*\]' "$SCAN_OUT/server.log" | sort | uniq -c || echo "  none"
}

install_scanners
case "$WHAT" in
    static) static_scan ;;
    dynamic) dynamic_scan ;;
    all) static_scan; dynamic_scan ;;
    *) echo "usage: $0 [all|static|dynamic]"; exit 2 ;;
esac
echo "Reports in $SCAN_OUT; findings and decisions: docs/security-scan.md"
