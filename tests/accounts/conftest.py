"""Accounts tests drive the app like browsers do: one context per request (see tests.helpers.BrowserClient)."""
import pytest

from tests.helpers import browser


@pytest.fixture()
def client(app):
    return browser(app)


class Outbox(list):
    """Mail that `platform.mail.notify` queued: (to, subject, body) tuples."""

    def to(self, email: str) -> list[tuple[str, str, str]]:
        return [m for m in self if m[0] == email]


@pytest.fixture()
def outbox(monkeypatch):
    """Record mail put on the "mail" queue (a live worker in the services run would race a queue check)."""
    import app.platform.jobs as jobs

    sent = Outbox()
    real_get_queue = jobs.get_queue

    class Recorder:
        def enqueue_call(self, func, args=(), **_kwargs):
            assert func == "app.platform.mail.deliver"
            sent.append(tuple(args))

    monkeypatch.setattr(jobs, "get_queue", lambda name="default": Recorder() if name == "mail" else real_get_queue(name))
    return sent
