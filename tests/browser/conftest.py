"""Browser fixtures: the test app on a real HTTP port, headless Chromium, a pausable job runner.

- `live_server`: the session's `app` (same database and queue as the other
  tests, cleaned after each test) served by werkzeug on 127.0.0.1:<free port>
  in a daemon thread, one per xdist worker.
- `page`: a fresh browser context per test that records console errors,
  uncaught exceptions and CSP violations; a test fails if any were seen.
- `jobs`: no job runs until the test calls `jobs.start()`, so a test can see a
  panel in its queued state before it turns done. Embedded backend: the
  in-process `EmbeddedWorker` thread. Redis backend: a real `flask worker`
  process (killed with its work-horse at the end).

Chromium is Debian's /usr/bin/chromium (never downloaded); without it the tests
skip, and fail in CI (`require`).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import require
from tests.helpers import stop_process_group

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


# --------------------------------------------------------------------------- server
@dataclass
class LiveServer:
    url: str
    server: object
    thread: threading.Thread


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # polling would fill the test log
        pass


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", server=server, thread=thread)
    server.shutdown()
    thread.join(5)


# --------------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def _playwright():
    executable = shutil.which(CHROMIUM) or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if executable is None:
        require(False, f"Chromium not found at {CHROMIUM} (run `make chromium`)")
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    try:
        browser = manager.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    except Exception as exc:  # a broken install is a missing browser, not a test failure
        manager.stop()
        require(False, f"Chromium did not start: {exc}")
    yield browser
    browser.close()
    manager.stop()


@dataclass
class ConsoleLog:
    """Everything the browser complained about during one test."""

    problems: list[str] = field(default_factory=list)

    def watch(self, page) -> None:
        def on_console(message):
            text = message.text
            if message.type == "error" or "Content Security Policy" in text:
                if "Failed to load resource" in text and "status of 4" in text:
                    return  # the 404/422 pages we open on purpose
                self.problems.append(f"console.{message.type}: {text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))


@pytest.fixture()
def browser_context(_playwright, live_server):
    """A fresh context (cookies, storage) per test; light colour scheme unless the test says otherwise."""
    contexts = []

    def _new(viewport=DESKTOP, color_scheme="light", **kwargs):
        context = _playwright.new_context(base_url=live_server.url, viewport=viewport, color_scheme=color_scheme,
                                          **kwargs)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield _new
    for context in contexts:
        context.close()


@pytest.fixture()
def console():
    return ConsoleLog()


@pytest.fixture()
def page(browser_context, console):
    page = browser_context().new_page()
    console.watch(page)
    yield page
    assert not console.problems, "browser reported problems:\n" + "\n".join(console.problems)


# --------------------------------------------------------------------------- jobs
class JobRunner:
    """Holds background work until `start()`, so a test can observe the queued state."""

    def __init__(self, app, backend) -> None:
        self.app = app
        self.backend = backend
        self.thread = None
        self.process: subprocess.Popen | None = None

    def pause_others(self) -> None:
        """Stop workers other fixtures left running on this backend (they would take our job at once)."""
        from tests import conftest

        embedded = self.app.extensions.pop("cairn_embedded_worker", None)
        if embedded is not None and embedded.is_alive():
            embedded.stop()
            embedded.join(10)
        shared = conftest._WORKERS.pop("main", None)
        if shared is not None:
            stop_process_group(shared)  # `run_jobs` starts a new one when a later test needs it

    def start(self) -> None:
        if self.backend["redis"]:
            from tests.conftest import start_worker

            self.process = start_worker(self.backend)
            assert self.process.poll() is None, "the worker process exited at start"
        else:
            from app.platform.jobs import EmbeddedWorker

            self.thread = EmbeddedWorker(self.app, poll_seconds=0.1)
            self.thread.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.thread.stop()
            self.thread.join(10)
            self.thread = None
        if self.process is not None:
            stop_process_group(self.process)
            self.process = None




@pytest.fixture()
def jobs(app, backend):
    runner = JobRunner(app, backend)
    runner.pause_others()
    yield runner
    runner.stop()
