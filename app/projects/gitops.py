"""Git: a one-commit repository of a generation's files, pushed with dulwich, and remote URL checks.

Tokens are passed to `porcelain.push` as username/password (never inside the URL,
which dulwich would print) and its output streams are captured, so a token never
reaches a log. What the remote says is logged, never shown: a user sees one of a
few fixed reasons (an internal server's reply must not leak through the error text).

Where a push may go (SSRF): https:// or ssh:// to a host whose every address is
public (`is_public_address`: `ipaddress.is_global` plus the special ranges this Python's
table misses). The host is resolved once, by `check_remote_url`, and the connection is
made to that address (`Remote.address`: no second lookup, so DNS rebinding can't
switch it); redirects are not followed. Private, loopback and local remotes (an
in-house git server, a bare repository on this machine) are an operator setting,
GIT_ALLOW_PRIVATE_REMOTES, never a tenant's.
"""
from __future__ import annotations

import io
import ipaddress
import logging
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

BRANCH_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")
_SCP_LIKE = re.compile(r"^(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?P<path>[^/].*)$")
# Labels that make a host an IPv4 number in some spelling: 127.1, 2130706433, 0x7f.0.0.1, 0177.0.0.1.
_NUMERIC_LABEL = re.compile(r"(0[xX][0-9a-fA-F]*|[0-9]+)")
# Not global, or embedding another address, though this Python's `is_global` may say otherwise.
_NOT_PUBLIC_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.88.99.0/24", "198.18.0.0/15", "224.0.0.0/3",
    "::/96", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
    "2002::/16", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))
PRIVATE_REMOTES_REFUSED = ("is a private, loopback or reserved address. Cairn pushes only to public hosts "
                           "(your Cairn operator can allow an in-house git server).")


class RemoteRefused(ValueError):
    """A remote URL we won't push to; the message says why."""


class PushFailed(Exception):
    """A push that failed for a reason the user can fix (shown on the export)."""


@dataclass
class Remote:
    url: str
    host: str
    scheme: str  # https | ssh | http (operator-allowed) | local (operator-allowed)
    port: int | None = None
    address: str = ""  # the one address the connection goes to (resolved once, by check_remote_url)
    user: str = ""
    path: str = ""


def default_username(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    if host.endswith("github.com"):
        return "x-access-token"
    if "gitlab" in host:
        return "oauth2"
    return "git"


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Only globally reachable unicast addresses; nothing that maps or tunnels to another one."""
    return (address.is_global and not address.is_multicast
            and not any(address in network for network in _NOT_PUBLIC_NETWORKS if network.version == address.version))


def _literal_address(host: str):
    """The address `host` spells, or None for a name. Non-canonical IPv4 spellings are refused."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(bare.split("%")[0] if ":" in bare else bare)
    except ValueError:
        pass
    labels = bare.rstrip(".").split(".")
    if labels and all(_NUMERIC_LABEL.fullmatch(label) for label in labels):
        raise RemoteRefused(f"Write the address {host!r} as four decimal numbers (a.b.c.d), or use the host's name.")
    return None


def resolve_remote_host(host: str, port: int | None, *, allow_private: bool) -> str:
    """Resolve `host` once: its first address, if every address it has is public (or the operator
    allows private ones). The caller connects to exactly this address."""
    literal = _literal_address(host)
    if literal is not None:
        addresses = [literal]
    elif not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})", host):
        raise RemoteRefused(f"{host!r} is not a valid host name.")
    else:
        try:
            infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
            addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        except (socket.gaierror, UnicodeError, OSError, ValueError):
            raise RemoteRefused(f"The host {host!r} could not be found.") from None
        if not addresses:
            raise RemoteRefused(f"The host {host!r} could not be found.")
    if not allow_private and not all(is_public_address(a) for a in addresses):
        raise RemoteRefused(f"The host {host!r} {PRIVATE_REMOTES_REFUSED}")
    return str(addresses[0])


def private_remotes_allowed() -> bool:
    """The operator's GIT_ALLOW_PRIVATE_REMOTES (off outside an app, e.g. in a bare script)."""
    from flask import current_app, has_app_context

    return has_app_context() and bool(current_app.config.get("GIT_ALLOW_PRIVATE_REMOTES", False))


def check_remote_url(url: str, *, allow_private: bool | None = None) -> Remote:
    """Accept https:// or ssh:// URLs (and scp-like user@host:path) to a public host, resolved once.

    Local paths and file:// URLs, other schemes, credentials inside the URL and hosts
    with any non-public address are refused, unless the operator allowed private remotes
    (GIT_ALLOW_PRIVATE_REMOTES; then plain http:// and local absolute paths too).
    """
    if allow_private is None:
        allow_private = private_remotes_allowed()
    url = (url or "").strip()
    if not url:
        raise RemoteRefused("Enter the repository URL.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url) or len(url) > 500:
        raise RemoteRefused("The repository URL must be one line without spaces (at most 500 characters).")
    scp = _SCP_LIKE.match(url)
    if scp:
        remote = Remote(url=url, host=scp.group("host").strip("[]"), scheme="ssh", user=scp.group("user"),
                        path=scp.group("path"))
    else:
        remote = _parse_url(url, allow_private=allow_private)
        if remote.scheme == "local":
            return remote
    if remote.user.startswith("-") or remote.host.startswith("-"):
        raise RemoteRefused("The repository URL is not valid.")  # would read as an ssh option
    remote.address = resolve_remote_host(remote.host, remote.port, allow_private=allow_private)
    return remote


def _parse_url(url: str, *, allow_private: bool) -> Remote:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("", "file") or url.startswith(("/", ".", "~", "\\")):
        if not allow_private:
            raise RemoteRefused("Local paths are not allowed: use an https:// or ssh:// repository URL.")
        path = parts.path if scheme == "file" else url
        if scheme == "file" and parts.netloc not in ("", "localhost"):
            raise RemoteRefused("A local repository must be an absolute path on this server.")
        if not os.path.isabs(path):
            raise RemoteRefused("A local repository must be an absolute path.")
        return Remote(url=url, host="", scheme="local", path=path)
    if scheme == "http" and allow_private:
        pass  # an in-house server the operator allowed (plain http stays refused otherwise)
    elif scheme not in ("https", "ssh"):
        raise RemoteRefused(f"{scheme}:// URLs are not allowed: use https:// or ssh://.")
    if parts.password or (scheme in ("https", "http") and parts.username):
        raise RemoteRefused("Don't put credentials in the URL: enter the token in its own field.")
    try:
        host, port = parts.hostname or "", parts.port
    except ValueError:
        raise RemoteRefused("The repository URL has an invalid port.") from None
    if not host:
        raise RemoteRefused("The repository URL has no host.")
    return Remote(url=url, host=host, scheme=scheme, port=port, user=parts.username or "", path=parts.path)


def build_repository(directory: Path, files: Iterable[tuple[str, bytes, bool]], *, author: str,
                     message: str, timestamp: int, branch: str = "main"):
    """Write `files` into `directory` and make one commit of them on `branch`, authored by `author`."""
    from dulwich import porcelain
    from dulwich.repo import Repo

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for path, content, executable in files:
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        os.chmod(target, 0o755 if executable else 0o644)
        paths.append(str(target))
    repo = Repo.init(str(directory))
    try:
        repo.refs.set_symbolic_ref(b"HEAD", f"refs/heads/{branch}".encode())
        porcelain.add(repo, paths=paths)
        ident = author.encode("utf-8")
        porcelain.commit(repo, message=message.encode("utf-8"), author=ident, committer=ident,
                         author_timestamp=timestamp, commit_timestamp=timestamp, author_timezone=0,
                         commit_timezone=0)
        _index_without_stat_data(repo, timestamp)
    finally:
        repo.close()


def _index_without_stat_data(repo, timestamp: int) -> None:
    """.git/index caches each file's stat data (inode, device, times, owner): different on every build, so an
    archive holding it would never be byte-identical. Keep the content facts (mode, size, sha) and give every
    entry the commit's time and no owner; git re-reads a file whose stat data don't match, nothing more."""
    import dataclasses

    index = repo.open_index()
    for path, entry in list(index.items()):
        index[path] = dataclasses.replace(entry, ctime=(timestamp, 0), mtime=(timestamp, 0), dev=0, ino=0,
                                          uid=0, gid=0)
    index.write()


class PinnedPoolManager:
    """Build the urllib3 pool manager of one push: every connection goes to the address resolved
    by `check_remote_url` (TLS still checks the certificate against the host's name), only to that
    host, and redirects are not followed (a 3xx reaches dulwich as an error)."""

    def __new__(cls, remote: Remote, timeout: float = 60.0):
        import urllib3

        class _Pinned(urllib3.PoolManager):
            def _new_pool(self, scheme, host, port, request_context=None):
                if host.strip("[]").lower() != remote.host.strip("[]").lower() or scheme != remote.scheme:
                    raise PushFailed("The remote sent the push to another host; Cairn doesn't follow redirects.")
                kwargs = dict(self.connection_pool_kw)
                if scheme == "https":
                    kwargs.update(server_hostname=remote.host, assert_hostname=remote.host, cert_reqs="CERT_REQUIRED")
                return self.pool_classes_by_scheme[scheme](remote.address, port, **kwargs)

            def urlopen(self, method, url, redirect=True, **kw):
                return super().urlopen(method, url, redirect=False, **kw)

        default_port = 443 if remote.scheme == "https" else 80
        host_header = remote.host if remote.port in (None, default_port) else f"{remote.host}:{remote.port}"
        if ":" in remote.host:
            host_header = f"[{remote.host}]" + (f":{remote.port}" if remote.port not in (None, default_port) else "")
        return _Pinned(headers={"Host": host_header, "User-Agent": "cairn-git"}, timeout=timeout,
                       retries=urllib3.Retry(total=0, redirect=0, raise_on_redirect=False))


def _pinned_ssh(remote: Remote) -> tuple[str, str]:
    """The URL and ssh command of an ssh push pinned to the resolved address; the host key is
    still checked under the host's name (HostKeyAlias), and no proxy command runs."""
    user = f"{remote.user}@" if remote.user else ""
    if "://" not in remote.url and ":" not in remote.address:  # scp-like: the path stays relative to home
        target = f"{user}{remote.address}:{remote.path}"
    else:
        address = f"[{remote.address}]" if ":" in remote.address else remote.address
        port = f":{remote.port}" if remote.port else ""
        target = f"ssh://{user}{address}{port}{remote.path if remote.path.startswith('/') else '/' + remote.path}"
    return target, f"ssh -o HostKeyAlias={remote.host} -o ProxyCommand=none"


def push(directory: Path, remote: Remote | str, *, branch: str = "main", username: str = "",
         password: str = "") -> str:
    """Push `branch` of the repository in `directory` to `remote` (checked by `check_remote_url`).

    The connection goes to `remote.address` only. Returns dulwich's (captured) output.
    """
    from dulwich import porcelain

    if isinstance(remote, str):
        remote = check_remote_url(remote)
    out, err = io.BytesIO(), io.BytesIO()
    kwargs: dict = {}
    if password:
        kwargs = {"username": username or default_username(remote.url), "password": password}
    target = remote.url
    if remote.scheme in ("https", "http"):
        kwargs["pool_manager"] = PinnedPoolManager(remote)
    elif remote.scheme == "ssh":
        target, kwargs["ssh_command"] = _pinned_ssh(remote)
    elif remote.scheme == "local":
        target = remote.path
    _check_transport(target, remote, kwargs)
    refspec = f"refs/heads/{branch}".encode()
    try:
        result = porcelain.push(str(directory), target, refspecs=[refspec + b":" + refspec], outstream=out,
                                errstream=err, **kwargs)
    except PushFailed:
        raise
    except Exception as exc:  # mapped to a fixed reason; the details go to the log only
        log.warning("git push to %s failed: %s: %s", remote.host or "a local path", type(exc).__name__,
                    _scrub(str(exc), password)[:500])
        raise PushFailed(explain_push_error(exc, password)) from None
    statuses = getattr(result, "ref_status", None) or {}
    for ref, status in statuses.items():
        if status:
            log.warning("git push to %s: the remote refused %r: %s", remote.host or "a local path", ref,
                        _scrub(str(status), password)[:500])
            raise PushFailed(_taken(ref.decode(errors="replace") if isinstance(ref, bytes) else str(ref)))
    return _scrub((out.getvalue() + err.getvalue()).decode("utf-8", "replace"), password)


def _check_transport(target: str, remote: Remote, kwargs: dict) -> None:
    """Make sure dulwich will use the transport, and for ssh the address, the URL was checked for.

    dulwich falls back to reading a URL it can't parse as `host:path` over ssh: an https URL with
    an IPv6 literal and a token would become an ssh connection to a host named "https", resolved
    by ssh itself. Building the client connects nowhere.
    """
    from dulwich.client import HttpGitClient, LocalGitClient, SSHGitClient, get_transport_and_path

    expected = {"https": HttpGitClient, "http": HttpGitClient, "ssh": SSHGitClient,
                "local": LocalGitClient}[remote.scheme]
    try:
        client, _path = get_transport_and_path(target, **kwargs)
    except Exception:
        client = None
    wrong_host = isinstance(client, SSHGitClient) and (client.host or "").strip("[]") != remote.address
    if not isinstance(client, expected) or wrong_host:
        log.warning("git push: dulwich would not push over %s to the checked address; refused", remote.scheme)
        raise PushFailed("This repository URL can't be used for a push: use the host's name instead of its address.")


def _taken(ref: str) -> str:
    return (f"The remote refused {ref}. The name may be taken: the repository already has a branch with "
            "other history. Push to an empty repository or another branch.")


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def explain_push_error(exc: Exception, secret: str = "") -> str:
    """One of a few fixed reasons: never the remote's own words (they could be an internal page)."""
    from dulwich.client import HTTPUnauthorized

    name = type(exc).__name__
    text = _scrub(str(exc), secret)
    if name == "DivergedBranches" or "non-fast-forward" in text or "diverged" in text.lower():
        return ("The name is taken: the remote branch already has other commits. Push to an empty repository or "
                "another branch, then retry.")
    # Word boundaries: a commit id in the message may contain "401" or "403".
    if isinstance(exc, HTTPUnauthorized) or re.search(r"\b(401|403)\b|authentication|permission denied", text, re.I):
        return "Bad credentials: the remote refused the token. Check the token and its permissions, then retry."
    if re.search(r"unexpected http resp 3\d\d", text):
        return "The remote answered with a redirect, which Cairn doesn't follow: use the repository's final URL."
    if isinstance(exc, (ConnectionError, socket.timeout, socket.gaierror, TimeoutError)) or name in (
            "HangupException", "GitProtocolError", "NotGitRepository", "URLError") or "not found" in text.lower():
        return "The remote could not be reached or is not a git repository. Check the URL, then retry."
    return "The push failed. Check the URL and the token, then retry."
