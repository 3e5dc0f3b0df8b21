"""A throwaway Dovecot IMAP server for the email channel's tests (Debian's dovecot-imapd, `make dovecot`).

Started as root with its own config in a temp dir (it daemonizes; stopped by its master.pid).
Plain IMAP on 127.0.0.1 and a free port; users from a passwd-file; maildirs owned by `dovecot`.
"""
from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

CONFIG = """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 100
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={base}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def available() -> str | None:
    """Why the server can't run here, or None when it can."""
    if not shutil.which("dovecot"):
        return "Dovecot is not installed (make dovecot installs Debian's dovecot-imapd)"
    if os.geteuid() != 0:
        return "Dovecot's test server must be started as root"
    try:
        pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")
    except KeyError:
        return "the dovecot and dovenull users are missing"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Dovecot:
    def __init__(self, users: dict[str, str]) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="cairn-dovecot-"))
        os.chmod(self.base, 0o755)
        self.port = _free_port()
        self.host = "127.0.0.1"
        (self.base / "users").write_text("".join(f"{u}:{{PLAIN}}{p}::::\n" for u, p in users.items()))
        (self.base / "mail").mkdir()
        dovecot = pwd.getpwnam("dovecot")
        os.chown(self.base / "mail", dovecot.pw_uid, dovecot.pw_gid)
        (self.base / "dovecot.conf").write_text(CONFIG.format(base=self.base, port=self.port))

    def start(self) -> "Dovecot":
        # It daemonizes: its output goes to files, not pipes the daemon would keep open.
        with open(self.base / "start.out", "wb") as out:
            subprocess.run(["dovecot", "-c", str(self.base / "dovecot.conf")], check=True, stdout=out,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=20)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"Dovecot did not start: {self.log()}")

    def stop(self) -> None:
        pid_file = self.base / "run" / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
        shutil.rmtree(self.base, ignore_errors=True)

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def append(self, user: str, password: str, raw: bytes) -> None:
        """Deliver a message into the user's INBOX (unseen), as a mail server would."""
        with imaplib.IMAP4(self.host, self.port) as client:
            client.login(user, password)
            status, detail = client.append("INBOX", None, None, raw)
            assert status == "OK", detail

    def unseen(self, user: str, password: str) -> int:
        with imaplib.IMAP4(self.host, self.port) as client:
            client.login(user, password)
            client.select("INBOX")
            _status, data = client.search(None, "UNSEEN")
            return len(data[0].split())
