"""`flask tickets-inbound ADDRESS`: import one RFC 5322 message from standard input (Postfix/Exim pipe).

Postfix example (master.cf): `cairn unix - n n - - pipe flags=Rq user=cairn argv=/srv/cairn/.venv/bin/flask
--app /srv/cairn/wsgi.py tickets-inbound ${recipient}`. The exit status tells the mail server what to do:
0 when the message was recorded (imported, ignored, held, rejected as unreadable, or a duplicate),
67 (EX_NOUSER) when no mailbox has that address, 75 (EX_TEMPFAIL) on any other failure, so the
mail server keeps the message and tries again later; a retry is imported once (its Message-ID).
"""
from __future__ import annotations

import sys

import click

from app.tickets import bp

EX_NOUSER, EX_TEMPFAIL = 67, 75


@bp.cli.command("tickets-inbound")
@click.argument("address")
def tickets_inbound(address: str) -> None:
    """Import the message on standard input into the helpdesk of the mailbox ADDRESS."""
    from app.tickets.inbound import inbound_import, organization_for_address

    found = organization_for_address(address)
    if found is None:
        click.echo(f"No helpdesk mailbox has the address {address}.", err=True)
        sys.exit(EX_NOUSER)
    organization, mailbox = found
    raw = sys.stdin.buffer.read()
    try:
        result = inbound_import(organization=organization, raw=raw, mailbox=mailbox)
    except Exception as exc:  # the mail server keeps the message and retries
        click.echo(f"Could not import the message now: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EX_TEMPFAIL)
    click.echo(str(result))
