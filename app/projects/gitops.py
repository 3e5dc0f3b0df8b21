"""Git: a one-commit repository of a generation's files, pushed with dulwich, and remote URL checks.

Tokens are passed to `porcelain.push` as username/password (never inside the URL,
which dulwich would print) and its output streams are captured, so a token never
reaches a log. Error messages are mapped to reasons a user can act on.
"""
from __future__ import annotations

import io
import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

BRANCH_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")
_SCP_LIKE = re.compile(r"^(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/].*)$")


class RemoteRefused(ValueError):
    """A remote URL we won't push to; the message says why."""


class PushFailed(Exception):
    """A push that failed for a reason the user can fix (shown on the export)."""


@dataclass
class Remote:
    url: str
    host: str
    scheme: str  # https | ssh | local


def default_username(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    if host.endswith("github.com"):
        return "x-access-token"
    if "gitlab" in host:
        return "oauth2"
    return "git"


def _private(host: str) -> bool:
    """True when `host` is or resolves to a loopback, private, link-local or reserved address."""
    try:
        addresses = {ipaddress.ip_address(host.strip("[]"))}
    except ValueError:
        try:
            addresses = {ipaddress.ip_address(info[4][0].split("%")[0]) for info in socket.getaddrinfo(host, None)}
        except (socket.gaierror, UnicodeError, OSError):
            raise RemoteRefused(f"The host {host!r} could not be found.")
    return any(a.is_private or a.is_loopback or a.is_link_local or a.is_reserved or a.is_multicast
               or a.is_unspecified for a in addresses)


def check_remote_url(url: str, *, allow_private: bool = False) -> Remote:
    """Accept https:// or ssh:// URLs (and scp-like user@host:path) to a public host.

    Local paths and file:// URLs, other schemes, credentials inside the URL and
    private/loopback hosts are refused, unless an admin allowed private remotes
    (then local paths too: a bare repository on this server).
    """
    url = (url or "").strip()
    if not url:
        raise RemoteRefused("Enter the repository URL.")
    if any(ch.isspace() for ch in url) or len(url) > 500:
        raise RemoteRefused("The repository URL must be one line without spaces (at most 500 characters).")
    scp = _SCP_LIKE.match(url)
    if scp:
        host, scheme = scp.group("host"), "ssh"
    else:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("", "file") or url.startswith(("/", ".", "~")):
            if not allow_private:
                raise RemoteRefused("Local paths are not allowed: use an https:// or ssh:// repository URL.")
            path = parts.path if scheme == "file" else url
            if not os.path.isabs(path):
                raise RemoteRefused("A local repository must be an absolute path.")
            return Remote(url=url, host="", scheme="local")
        if scheme == "http" and allow_private:
            pass  # an in-house server the admin allowed (plain http stays refused for public hosts)
        elif scheme not in ("https", "ssh"):
            raise RemoteRefused(f"{scheme}:// URLs are not allowed: use https:// or ssh://.")
        if parts.password or (scheme in ("https", "http") and parts.username):
            raise RemoteRefused("Don't put credentials in the URL: enter the token in its own field.")
        host = parts.hostname or ""
        if not host:
            raise RemoteRefused("The repository URL has no host.")
    if not allow_private and _private(host):
        raise RemoteRefused(f"The host {host!r} is a private or loopback address; an admin can allow private "
                            "remotes in the projects settings.")
    return Remote(url=url, host=host, scheme=scheme)


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


def push(directory: Path, url: str, *, branch: str = "main", username: str = "", password: str = "") -> str:
    """Push `branch` of the repository in `directory` to `url`. Returns dulwich's (captured) output."""
    from dulwich import porcelain

    out, err = io.BytesIO(), io.BytesIO()
    kwargs = {}
    if password:
        kwargs = {"username": username or default_username(url), "password": password}
    refspec = f"refs/heads/{branch}:refs/heads/{branch}".encode()
    try:
        result = porcelain.push(str(directory), url, refspecs=[refspec], outstream=out, errstream=err, **kwargs)
    except Exception as exc:  # mapped to a reason; the raw text may echo the URL, never the token
        raise PushFailed(explain_push_error(exc, password)) from None
    statuses = getattr(result, "ref_status", None) or {}
    for ref, status in statuses.items():
        if status:
            raise PushFailed(_taken(ref.decode(errors="replace") if isinstance(ref, bytes) else str(ref), str(status)))
    return _scrub((out.getvalue() + err.getvalue()).decode("utf-8", "replace"), password)


def _taken(ref: str, detail: str) -> str:
    return (f"The remote refused {ref}: {detail}. The name is taken: the repository already has a branch with "
            "other history. Push to an empty repository or another branch.")


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def explain_push_error(exc: Exception, secret: str = "") -> str:
    from dulwich.client import HTTPUnauthorized

    name = type(exc).__name__
    text = _scrub(str(exc), secret)
    if name == "DivergedBranches" or "non-fast-forward" in text or "diverged" in text.lower():
        return ("The name is taken: the remote branch already has other commits. Push to an empty repository or "
                "another branch, then retry.")
    # Word boundaries: a commit id in the message may contain "401" or "403".
    if isinstance(exc, HTTPUnauthorized) or re.search(r"\b(401|403)\b|authentication|permission denied", text, re.I):
        return "Bad credentials: the remote refused the token. Check the token and its permissions, then retry."
    if isinstance(exc, (ConnectionError, socket.timeout, socket.gaierror, TimeoutError)) or name in (
            "HangupException", "GitProtocolError", "NotGitRepository", "URLError") or "not found" in text.lower():
        return f"The remote could not be reached or is not a git repository ({name}: {text[:200]})."
    return f"The push failed ({name}: {text[:200]})."
