"""The agent ticket list and search under load, served by gunicorn, against a trivial page of the same app.

Seeds a throwaway PostgreSQL database with tickets across organizations (default 20,000 tickets
in 10 organizations; TICKETS_BENCH_FULL=1 for the issue's 1,000,000 in 100), starts gunicorn on
a free loopback port, and runs the load from a second process (threads with keep-alive
connections). For each URL it prints p50/p95 latency and requests/s, and the ratio to the
trivial page (the anonymous landing page) measured in the same run. Then it prints the
EXPLAIN (ANALYZE, BUFFERS) of the list and search queries the views run.

Needs PostgreSQL: BENCH_DATABASE_URL or TEST_DATABASE_URL (a database `<name>_bench_<pid>` is
created next to it and dropped). Without one it says so and exits 0.

  .venv/bin/python bench/tickets_list.py [--seconds 8] [--concurrency 8]
  TICKETS_BENCH_FULL=1 .venv/bin/python bench/tickets_list.py
"""
from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import text as sa_text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.support.postgres import create_database, drop_database, server_url  # noqa: E402

PASSWORD = "Tall-granite-lighthouse-47"
AGENT_EMAIL = "agent-1@bench.example.com"
PAGE_SIZE = 20
RARE = "c4ca4238a0"  # the start of md5('1'): in one ticket of the second organization, none of the agent's
WORDS = ("printer", "invoice", "login", "password", "refund", "shipping", "laptop", "email", "vpn", "account",
         "billing", "crash", "slow", "update", "license", "backup", "monitor", "keyboard", "wifi", "export")


def seed(app, organizations: int, tickets: int) -> None:
    """Organizations with an agent and customers through the models; tickets and comments in bulk SQL."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app.accounts.models import Organization, User
    from app.accounts.services import password_hash
    from app.extensions import db

    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        hashed = password_hash(PASSWORD)
        for number in range(1, organizations + 1):
            org = Organization(name=f"Bench {number}", slug=f"bench-{number}", subscription_tier="enterprise")
            db.session.add(org)
            agent = User(organization=org, email=f"agent-{number}@bench.example.com", full_name=f"Agent {number}",
                         role="agent", availability_status="online", password_hash=hashed)
            db.session.add(agent)
            for c in range(5):
                db.session.add(User(organization=org, email=f"customer-{number}-{c}@bench.example.com",
                                    full_name=f"Customer {number}-{c}", role="customer"))
        db.session.commit()
        agent = db.session.scalars(sa.select(User).where(User.email == AGENT_EMAIL)).one()
        agent.preferences.default_page_size = PAGE_SIZE
        db.session.commit()
        words = "ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "]"
        started = time.perf_counter()
        with db.engine.begin() as conn:
            # Bulk-load practice: build the trigram indexes once after the insert, not row by row.
            trigram = conn.execute(sa.text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('tickets', 'ticket_comments') "
                "AND indexdef LIKE '%gin_trgm_ops%'")).all()
            for name, _ in trigram:
                conn.execute(sa.text(f'DROP INDEX "{name}"'))
            # n-th ticket of the whole run -> organization (n % orgs) + 1, numbered within it.
            conn.execute(sa.text(f"""
                INSERT INTO tickets (organization_id, ticket_number, subject, description, status, priority,
                    customer_id, assigned_agent_id, tags, custom_fields, sla_breach, sla_paused_seconds,
                    satisfaction_comment, created_at, updated_at, deletion_metadata, can_be_restored, is_active,
                    delete_reason)
                SELECT o.id, (g / :orgs) + 1,
                    initcap(({words})[1 + (g * 7) % 20]) || ' problem with ' || ({words})[1 + (g * 13) % 20] || ' #' || g,
                    'Customer reports that the ' || ({words})[1 + (g * 3) % 20] || ' stopped working after the '
                        || ({words})[1 + (g * 11) % 20] || ' change. Reference ' || md5(g::text),
                    (ARRAY['new','open','pending','resolved','closed','cancelled'])[1 + g % 6],
                    (ARRAY['low','medium','high','urgent'])[1 + (g / 7) % 4],
                    (SELECT min(u.id) FROM users u WHERE u.organization_id = o.id AND u.role = 'customer') + (g % 5),
                    CASE WHEN g % 3 = 0 THEN NULL ELSE
                        (SELECT u.id FROM users u WHERE u.organization_id = o.id AND u.role = 'agent') END,
                    to_jsonb(ARRAY[({words})[1 + (g * 17) % 20]]), '{{}}'::jsonb, g % 10 = 0, 0, '',
                    now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval + interval '1 minute',
                    '{{}}'::jsonb, true, (g / :orgs) % 50 <> 0, ''
                FROM generate_series(0, :n - 1) AS g
                JOIN organizations o ON o.slug = 'bench-' || ((g % :orgs) + 1)
            """), {"orgs": organizations, "n": tickets})
            conn.execute(sa.text("""
                INSERT INTO ticket_counters (organization_id, last_number)
                SELECT organization_id, max(ticket_number) FROM tickets GROUP BY organization_id
            """))
            conn.execute(sa.text(f"""
                INSERT INTO ticket_comments (organization_id, ticket_id, author_id, comment_type, content,
                    created_at, updated_at)
                SELECT t.organization_id, t.id, t.assigned_agent_id, CASE WHEN t.id % 4 = 0 THEN 'note' ELSE 'reply' END,
                    'We looked at the ' || ({words})[1 + (t.id * 19) % 20] || ' and it should work again.',
                    t.created_at + interval '2 minutes', t.created_at + interval '2 minutes'
                FROM tickets t WHERE t.id % 2 = 0
            """))
            for _, definition in trigram:
                conn.execute(sa.text(definition))
        # As autovacuum leaves a table in steady state: statistics, and the visibility map index-only scans read.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
        print(f"seeded {tickets:,} tickets in {organizations} organizations "
              f"({tickets // 2:,} comments) in {time.perf_counter() - started:.1f} s")


# --------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(database_url: str, port: int, workers: int, threads: int, storage: str) -> subprocess.Popen:
    # The web tier alone, as deployed beside `flask worker`: no in-process job worker in the gunicorn workers.
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL="", STORAGE_DIR=storage, SECRET_KEY="bench-secret",
               PYTHONPATH=str(ROOT), SESSION_COOKIE_SECURE="false", EMBEDDED_WORKER="false")
    log = open(Path(storage) / "gunicorn.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/signin")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def sign_in(port: int) -> str:
    """Sign in through the real form; returns the Cookie header value."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/signin")
    response = conn.getresponse()
    html = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)
    body = urlencode({"csrf_token": token, "email": AGENT_EMAIL, "password": PASSWORD})
    conn.request("POST", "/signin", body=body, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                        "Cookie": cookie})
    response = conn.getresponse()
    response.read()
    if response.status != 302:
        raise SystemExit(f"sign-in failed: {response.status}")
    return response.getheader("Set-Cookie", "").split(";")[0]


# --------------------------------------------------------------------------- load (second process)
def load_worker(port: int, path: str, headers: dict, seconds: float, concurrency: int, out) -> None:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
            if ok:
                mine.append(time.perf_counter() - started)
            else:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    out.put({"latencies": latencies, "errors": errors[0], "elapsed": elapsed})


def measure(port: int, path: str, headers: dict, seconds: float, concurrency: int) -> dict:
    queue = multiprocessing.Queue()
    proc = multiprocessing.Process(target=load_worker, args=(port, path, headers, seconds, concurrency, queue))
    proc.start()
    result = queue.get()
    proc.join()
    lat = sorted(result["latencies"])
    if not lat:
        raise SystemExit(f"{path}: no successful responses ({result['errors']} errors)")
    return {"p50": statistics.median(lat) * 1000, "p95": lat[int(len(lat) * 0.95) - 1] * 1000,
            "rps": len(lat) / result["elapsed"], "n": len(lat), "errors": result["errors"]}


# --------------------------------------------------------------------------- explain
def explain(app, label: str, args: dict, page: int = 1) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each ticket query the list view runs for `args` (captured as it runs)."""
    import sqlalchemy as sa
    from flask import g

    from app.accounts.models import User
    from app.extensions import db
    from app.tickets.listing import TicketFilters, ticket_page

    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "tickets" in statement:
            captured.append((statement, parameters))

    with app.test_request_context(f"/tickets/?page={page}"):
        user = db.session.scalars(sa.select(User).where(User.email == AGENT_EMAIL)).one()
        g._login_user = user  # Flask-Login's slot for current_user (the page size preference); no session needed
        sa.event.listen(db.engine, "before_cursor_execute", capture)
        try:
            ticket_page(user=user, filters=TicketFilters(**args))
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", capture)
        with db.engine.connect() as conn:
            plans = [conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters)
                     .scalars().all() for statement, parameters in captured]
    print(f"\nEXPLAIN {label}: {len(plans)} ticket queries")
    for number, plan in enumerate(plans, 1):
        print(f"  query {number}:")
        for line in plan:
            print("   ", line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick = os.environ.get("BENCH_QUICK") == "1"  # bench/README.md: the smallest size, run by the test suite
    parser.add_argument("--seconds", type=float,
                        default=float(os.environ.get("TICKETS_BENCH_SECONDS", 0.5 if quick else 6)))
    parser.add_argument("--concurrency", type=int, default=8)
    # As `make serve` deploys it: gunicorn's advice for CPU-bound workers, (2 x cores) + 1 processes of one
    # thread. Threads in one process queue on its interpreter lock: 2 x 4 gave p95s a third higher.
    parser.add_argument("--workers", type=int, default=2 if quick else 2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeded-database", default="",
                        help="a database this script seeded before (kept): skip seeding, keep it afterwards")
    args = parser.parse_args()
    base = server_url()
    if not base:
        print("tickets_list: skipped (set BENCH_DATABASE_URL to a PostgreSQL server; the trigram search is PostgreSQL's)")
        return 0
    full = os.environ.get("TICKETS_BENCH_FULL") == "1"
    organizations, tickets = (100, 1_000_000) if full else (2, 400) if quick else (10, 20_000)
    per_org = tickets // organizations
    deep_page = min(500, max(1, (per_org * 49 // 50) // PAGE_SIZE))  # 1 ticket in 50 is in the trash

    from app import create_app

    database_url = args.seeded_database or create_database(base, "tickets")
    storage = tempfile.mkdtemp(prefix="cairn-bench-")
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": "", "STORAGE_DIR": storage, "SECRET_KEY": "bench-secret",
                      "EMBEDDED_WORKER": False})
    proc = None
    try:
        if args.seeded_database:
            with app.app_context():
                from app.extensions import db

                per_org = db.session.execute(sa_text("SELECT count(*) / count(DISTINCT organization_id) FROM tickets")).scalar()
            deep_page = min(500, max(1, (per_org * 49 // 50) // PAGE_SIZE))
            print(f"using {args.seeded_database} as seeded ({per_org:,} tickets per organization)")
        else:
            seed(app, organizations, tickets)
        port = free_port()
        proc = start_gunicorn(database_url, port, args.workers, args.threads, storage)
        cookie = sign_in(port)
        signed_in = {"Cookie": cookie}
        # What search-as-you-type and the filters fetch: the results fragment alone, no layout or filter bar.
        fragment = {**signed_in, "HX-Request": "true", "HX-Target": "ticket-results"}
        filters = {"status": "active", "priority": "high", "sort": "-number"}
        pages = [
            ("trivial page (landing, /)", "/", {}),
            # The floor of any signed-in page (session, nav, layout): the organization has no articles.
            ("signed-in floor (knowledge base, empty)", "/tickets/kb", signed_in),
            ("list page 1 (all, newest)", "/tickets/", signed_in),
            ("list page 1 (active + high, newest)", "/tickets/?" + urlencode(filters), signed_in),
            (f"list page {deep_page} (all, newest)", f"/tickets/?page={deep_page}", signed_in),
            ("list page 1, HTMX fragment (as the filters fetch it)", "/tickets/", fragment),
            ("search 'printer' (common word)", "/tickets/?q=printer", signed_in),
            (f"search '{RARE}' (rare: in no ticket of the organization)", f"/tickets/?q={RARE}", signed_in),
            ("search 'printer', HTMX fragment (search-as-you-type)", "/tickets/?q=printer", fragment),
        ]
        print(f"\ngunicorn: {args.workers} workers x {args.threads} threads; load: a second process, {args.concurrency} "
              f"keep-alive connections, {args.seconds:.0f} s per URL; agent page size {PAGE_SIZE}")
        results = []
        for label, path, auth in pages:
            measure(port, path, auth, 1.0, args.concurrency)  # warm up
            results.append((label, measure(port, path, auth, args.seconds, args.concurrency)))
        baseline, floor = results[0][1], results[1][1]
        print(f"\n{'page':<52} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'x trivial rps':>14} "
              f"{'x signed-in':>12} {'errors':>7}")
        for label, r in results:
            print(f"{label:<52} {r['p50']:8.1f} {r['p95']:8.1f} {r['rps']:8.1f} {r['rps'] / baseline['rps']:14.2f} "
                  f"{r['rps'] / floor['rps']:12.2f} {r['errors']:7d}")
        explain(app, "list (active + high, newest, page 1): the count, then the page by deferred join", filters)
        explain(app, f"list page {deep_page} (all, newest): the window's numbers from the index alone", {},
                page=deep_page)
        explain(app, "search 'printer' (common word: over 1,000 matches, the page walks the list order)",
                {"q": "printer"})
        explain(app, f"search '{RARE}' (rare: the organization-led trigram GIN indexes)", {"q": RARE})
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
        if not args.seeded_database:
            drop_database(database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
