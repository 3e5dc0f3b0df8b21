"""Issue 10.2/10.3: a tenant must not make the server connect to its own network.

Every URL of the table is refused before any connection: `socket.socket.connect` is patched to
record every attempt, and a real listening socket on 127.0.0.1 records every accept. Names
resolve through a fake resolver (no network): one resolves to loopback, one to a mix.
Redirects (a local HTTP server answering 302 to loopback) are not followed, and the host is
resolved once: the connection goes to that address even if DNS changes its answer (rebinding).
"""
from __future__ import annotations

import http.server
import ipaddress
import socket
import threading

import pytest

from app.projects import gitops

FAKE_DNS = {
    "localhost": ["127.0.0.1", "::1"],
    "loopback.attacker.example": ["127.0.0.1"],
    "metadata.attacker.example": ["169.254.169.254"],
    "mixed.attacker.example": ["93.184.215.14", "10.0.0.5"],
    "mapped.attacker.example": ["::ffff:169.254.169.254"],
    "nat64.attacker.example": ["64:ff9b::a9fe:a9fe"],
    "public.example": ["93.184.215.14"],
}


class Network:
    """Patched resolver and connect: records lookups and connection attempts; connects nowhere."""

    def __init__(self, monkeypatch, dns=None):
        self.lookups: list[str] = []
        self.connects: list[tuple] = []
        self.dns = dict(FAKE_DNS, **(dns or {}))
        real_getaddrinfo = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            host = host.decode() if isinstance(host, bytes) else host
            try:
                ipaddress.ip_address(host)
                return real_getaddrinfo(host, port, *args, **kwargs)  # a literal: no lookup
            except ValueError:
                pass
            self.lookups.append(host)
            answer = self.dns.get(host)
            if callable(answer):
                answer = answer()
            if not answer:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                     (a, port or 0) if ":" not in a else (a, port or 0, 0, 0)) for a in answer]

        def connect(sock, address):
            self.connects.append(address)
            raise ConnectionRefusedError(111, "connections are recorded, not made, in this test")

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", lambda sock, address: connect(sock, address))


class Listener:
    """A real socket on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]

    def accepted(self) -> int:
        count = 0
        while True:
            try:
                connection, _ = self.sock.accept()
            except (socket.timeout, BlockingIOError, OSError):
                return count
            connection.close()
            count += 1

    def close(self):
        self.sock.close()


@pytest.fixture()
def listener():
    sock = Listener()
    yield sock
    sock.close()


REFUSED_URLS = [
    # IPv4: every non-global range
    "https://127.0.0.1/r.git", "https://127.8.9.10/r.git", "https://10.0.0.1/r.git", "https://172.16.5.4/r.git",
    "https://192.168.0.1/r.git", "https://169.254.169.254/latest/meta-data/", "https://100.64.0.1/r.git",
    "https://192.0.0.8/r.git", "https://192.0.0.170/r.git", "https://192.0.2.1/r.git", "https://198.51.100.1/r.git",
    "https://203.0.113.1/r.git", "https://198.18.0.1/r.git", "https://0.0.0.0/r.git", "https://0.1.2.3/r.git",
    "https://224.0.0.1/r.git", "https://239.255.255.250/r.git", "https://240.0.0.1/r.git",
    "https://255.255.255.255/r.git", "https://192.88.99.1/r.git",
    # IPv6, including forms that embed an IPv4 address
    "https://[::1]/r.git", "https://[::]/r.git", "https://[::ffff:127.0.0.1]/r.git", "https://[::ffff:7f00:1]/r.git",
    "https://[::ffff:a9fe:a9fe]/r.git", "https://[::127.0.0.1]/r.git", "https://[2002:7f00:1::1]/r.git",
    "https://[2002:a00:1::1]/r.git", "https://[2002:5db8:d70e::1]/r.git", "https://[64:ff9b::7f00:1]/r.git",
    "https://[64:ff9b::a9fe:a9fe]/r.git", "https://[64:ff9b:1::1]/r.git", "https://[2001::1]/r.git",
    "https://[2001:db8::1]/r.git", "https://[fe80::1]/r.git", "https://[fe80::1%25eth0]/r.git",
    "https://[fc00::1]/r.git", "https://[fd12:3456::1]/r.git", "https://[fec0::1]/r.git", "https://[ff02::1]/r.git",
    "https://[100::1]/r.git",
    # IPv4 in decimal, octal, hex and short forms
    "https://2130706433/r.git", "https://0x7f000001/r.git", "https://0177.0.0.1/r.git", "https://0x7f.0.0.1/r.git",
    "https://127.1/r.git", "https://017700000001/r.git", "https://127.0.0.1./r.git", "https://3232235521/r.git",
    # local paths and other schemes
    "file:///srv/git/r.git", "file://localhost/etc/passwd", "/srv/git/r.git", "./r.git", "~/r.git",
    "http://93.184.215.14/r.git", "git://93.184.215.14/r.git", "ftp://93.184.215.14/r.git",
    # ssh and scp-like forms
    "ssh://git@127.0.0.1/r.git", "git@127.0.0.1:r.git", "git@[::1]:r.git", "ssh://git@[::ffff:10.0.0.1]/r.git",
    "ssh://-oProxyCommand=x@93.184.215.14/r.git",
    # names that resolve to non-global addresses
    "https://localhost/r.git", "https://loopback.attacker.example/r.git", "https://metadata.attacker.example/r.git",
    "https://mixed.attacker.example/r.git", "https://mapped.attacker.example/r.git",
    "https://nat64.attacker.example/r.git", "ssh://git@loopback.attacker.example/r.git",
    "git@loopback.attacker.example:r.git", "https://unknown.attacker.example/r.git",
    # credentials in the URL
    "https://user:token@public.example/r.git",
]


def test_the_table_is_big_enough():
    assert len(REFUSED_URLS) >= 40 and len(set(REFUSED_URLS)) == len(REFUSED_URLS)


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_remote_is_refused_without_any_connection(url, monkeypatch, listener, tmp_path):
    network = Network(monkeypatch)
    for candidate in (url, url.replace("127.0.0.1/", f"127.0.0.1:{listener.port}/")):
        with pytest.raises(gitops.RemoteRefused):
            gitops.push(tmp_path, candidate, password="tok")  # check, then push: refused at the check
    assert network.connects == []
    assert listener.accepted() == 0


def test_public_addresses_pass_and_are_pinned(monkeypatch):
    network = Network(monkeypatch)
    remote = gitops.check_remote_url("https://public.example/you/repo.git")
    assert (remote.host, remote.address, remote.scheme) == ("public.example", "93.184.215.14", "https")
    assert gitops.check_remote_url("https://[2606:2800:220:1::1]/r.git").address == "2606:2800:220:1::1"
    assert gitops.check_remote_url("git@public.example:you/repo.git").address == "93.184.215.14"
    assert network.lookups == ["public.example", "public.example"] and network.connects == []


def test_the_host_is_resolved_once_and_the_connection_goes_to_that_address(monkeypatch, tmp_path):
    """DNS rebinding: the first answer is public, every later one loopback. The push connects to the
    first answer (with the host's name for TLS) and never asks DNS again."""
    answers = iter([["93.184.215.14"]])
    network = Network(monkeypatch, dns={"rebind.attacker.example": lambda: next(answers, ["127.0.0.1"])})
    gitops.build_repository(tmp_path, [("a.txt", b"x", False)], author="A <a@example.com>", message="m",
                            timestamp=0)
    remote = gitops.check_remote_url("https://rebind.attacker.example/r.git")
    with pytest.raises(gitops.PushFailed) as failed:
        gitops.push(tmp_path, remote, password="tok")
    assert network.lookups == ["rebind.attacker.example"]
    assert network.connects and {address[0] for address in network.connects} == {"93.184.215.14"}
    assert "127.0.0.1" not in str(failed.value)


class _Redirector(http.server.BaseHTTPRequestHandler):
    target = ""
    seen_hosts: list[str] = []

    def do_GET(self):  # noqa: N802
        type(self).seen_hosts.append(self.headers.get("Host", ""))
        self.send_response(302)
        self.send_header("Location", self.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args):
        pass


def test_redirects_to_loopback_are_not_followed(app, listener, tmp_path):
    """A git server that answers 302 to http://127.0.0.1:<listener>/: the push fails with a fixed reason
    and the listener never sees a connection. (Plain http and loopback need the operator's setting;
    with it, the redirect is still not followed.)"""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Redirector)
    _Redirector.target = f"http://127.0.0.1:{listener.port}"
    _Redirector.seen_hosts = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        gitops.build_repository(tmp_path, [("a.txt", b"x", False)], author="A <a@example.com>", message="m",
                                timestamp=0)
        remote = gitops.check_remote_url(f"http://127.0.0.1:{server.server_port}/repo.git", allow_private=True)
        with pytest.raises(gitops.PushFailed) as failed:
            gitops.push(tmp_path, remote, password="tok")
        assert "redirect" in str(failed.value)
        assert _Redirector.seen_hosts  # the first server was asked
        assert listener.accepted() == 0  # the redirect target never was
    finally:
        server.shutdown()
        server.server_close()


class _Chatty(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b"<h1>Internal admin: db password hunter2</h1>\n"
        self.send_response(500)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_remote_reply_is_logged_never_shown(app, tmp_path, caplog):
    """The report: the first line of the internal response came back in the error text."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Chatty)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        gitops.build_repository(tmp_path, [("a.txt", b"x", False)], author="A <a@example.com>", message="m",
                                timestamp=0)
        remote = gitops.check_remote_url(f"http://127.0.0.1:{server.server_port}/repo.git", allow_private=True)
        with caplog.at_level("WARNING", logger="app.projects.gitops"):
            with pytest.raises(gitops.PushFailed) as failed:
                gitops.push(tmp_path, remote, password="tok")
    finally:
        server.shutdown()
        server.server_close()
    message = str(failed.value)
    assert "hunter2" not in message and "500" not in message and "127.0.0.1" not in message
    assert message in {gitops.explain_push_error(Exception("x")),
                       "The remote could not be reached or is not a git repository. Check the URL, then retry."}
    assert "git push to 127.0.0.1 failed" in caplog.text


def test_ssh_pushes_are_pinned_too():
    remote = gitops.Remote(url="git@public.example:you/repo.git", host="public.example", scheme="ssh",
                           address="93.184.215.14", user="git", path="you/repo.git")
    target, command = gitops._pinned_ssh(remote)
    assert target == "git@93.184.215.14:you/repo.git" and "HostKeyAlias=public.example" in command
    remote = gitops.Remote(url="ssh://git@public.example:2222/you/repo.git", host="public.example", scheme="ssh",
                           port=2222, address="2606:2800:220:1::1", user="git", path="/you/repo.git")
    assert gitops._pinned_ssh(remote)[0] == "ssh://git@[2606:2800:220:1::1]:2222/you/repo.git"


def test_private_remotes_are_the_operators_setting_not_the_tenants(app, people, login):
    """The attack: an organization admin ticks "allow private remotes". The checkbox is gone, the old
    setting does nothing, and the settings page says who decides."""
    from app.accounts.models import Organization
    from app.extensions import db

    admin = login(people["admin"])
    page = admin.client.get("/projects/settings").get_data(as_text=True)
    assert "allow_private_remotes" not in page and "GIT_ALLOW_PRIVATE_REMOTES" in page
    posted = admin.client.post("/projects/settings", data={"csrf_token": admin.csrf("/projects/settings"),
                                                            "allow_private_remotes": "y"})
    assert posted.status_code == 405
    with app.app_context():
        org = db.session.get(Organization, people["admin"].organization_id)
        org.settings = {**(org.settings or {}), "projects_allow_private_remotes": True}
        db.session.commit()
        with app.test_request_context():
            with pytest.raises(gitops.RemoteRefused):
                gitops.check_remote_url("/srv/git/r.git")
            with pytest.raises(gitops.RemoteRefused):
                gitops.check_remote_url("https://127.0.0.1/r.git")
    app.config["GIT_ALLOW_PRIVATE_REMOTES"] = True
    try:
        with app.app_context():
            assert gitops.check_remote_url("/srv/git/r.git").scheme == "local"
            assert gitops.check_remote_url("http://127.0.0.1:9/r.git").address == "127.0.0.1"
    finally:
        app.config["GIT_ALLOW_PRIVATE_REMOTES"] = False


@pytest.mark.parametrize("password", ["", "tok"])
def test_an_ipv6_literal_https_remote_never_turns_into_another_connection(monkeypatch, tmp_path, password):
    """dulwich can't parse an https URL with an IPv6 literal; with a token it would even fall back to
    ssh to a host named "https" (which ssh resolves itself). The push fails before any connection,
    lookup or ssh process."""
    from dulwich import client as dulwich_client

    network = Network(monkeypatch)
    spawned = []
    monkeypatch.setattr(dulwich_client.SubprocessSSHVendor, "run_command",
                        lambda self, *a, **k: spawned.append(a) or (_ for _ in ()).throw(OSError("no ssh here")))
    gitops.build_repository(tmp_path, [("a.txt", b"x", False)], author="A <a@example.com>", message="m",
                            timestamp=0)
    remote = gitops.check_remote_url("https://[2606:2800:220:1::1]:8443/r.git")
    assert remote.address == "2606:2800:220:1::1"
    with pytest.raises(gitops.PushFailed):
        gitops.push(tmp_path, remote, password=password)
    assert network.connects == [] and spawned == [] and network.lookups == []
