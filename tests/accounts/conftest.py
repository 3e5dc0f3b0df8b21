"""Accounts tests drive the app like browsers do: one context per request (see tests.helpers.BrowserClient)."""
import pytest

from tests.helpers import browser, record_outbox


@pytest.fixture()
def client(app):
    return browser(app)


@pytest.fixture()
def outbox(monkeypatch):
    """Mail that `platform.mail.notify` wrote and its caller committed, recorded instead of sent."""
    return record_outbox(monkeypatch)
