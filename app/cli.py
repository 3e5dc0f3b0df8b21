"""Flask CLI commands: demo data, the worker, maintenance."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask, current_app

DEMO_PASSWORD = "cairn-demo-password"
# (handle, email, name, role): loaders get the users by handle, which is the role for the first of each.
DEMO_USERS = (
    ("admin", "admin@demo.example.com", "Ada Admin", "admin"),
    ("manager", "manager@demo.example.com", "Max Manager", "manager"),
    ("agent", "agent@demo.example.com", "Alex Agent", "agent"),
    ("customer", "customer@demo.example.com", "Casey Customer", "customer"),
    ("customer2", "customer2@demo.example.com", "Robin Reyes", "customer"),
)
# Each area's `app.<area>.demo.load_demo`, in dependency order (exports reads the other areas' data).
DEMO_AREAS = ("tickets", "rules", "projects", "exports")
# Organization setting listing the areas whose demo data is complete; an area is loaded until it is listed.
DEMO_LOADED_SETTING = "demo_data_loaded"
DEMO_JOB_TIMEOUT_SECONDS = 120


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Load the demo organization and every area's demo data once (safe to run again).

        The organization and its users are created on the first run. Each area's
        loader then runs until it has succeeded once, and the jobs it queued run here
        and now; its name is then recorded on the organization. A failure stops the
        command with a non-zero exit and leaves that area unrecorded, so running it
        again loads what is missing (the loaders skip what already exists). Areas
        already recorded are never loaded again: changes made in the demo stay.
        """
        from app.accounts.models import Organization
        from app.extensions import db

        org = db.session.scalars(sa.select(Organization).where(Organization.slug == "demo")).first()
        if org is None:
            org = _create_demo_organization()
            click.echo("Demo organization created.")
        elif DEMO_LOADED_SETTING not in (org.settings or {}) and not _is_demo_organization(org):
            raise click.ClickException("An organization with the slug 'demo' exists but is not the demo "
                                       f"(no {DEMO_USERS[0][1]} in it); not loading demo data into it.")
        loaded = list(org.setting(DEMO_LOADED_SETTING, []))
        pending = [area for area in DEMO_AREAS if area not in loaded]
        if pending:
            users = _demo_users(org)
            for area in pending:
                _load_demo_area(area, org, users)
                loaded.append(area)
                org.settings = {**(org.settings or {}), DEMO_LOADED_SETTING: loaded}
                db.session.commit()
                click.echo(f"Demo {area} loaded.")
            click.echo("Demo data loaded.")
        else:
            click.echo("Demo data already present.")
        click.echo("Demo sign-ins (password for all: %s):" % DEMO_PASSWORD)
        for _handle, email, _name, role in DEMO_USERS:
            click.echo(f"  {role:<9} {email}")

    @app.cli.command("worker")
    @click.option("--queues", default="", envvar="CAIRN_WORKER_QUEUES",
                  help="Comma-separated queue names (default: all).")
    @click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
    @click.option("--no-beat", is_flag=True, help="Don't enqueue periodic tasks from this worker.")
    def worker(queues: str, burst: bool, no_beat: bool) -> None:
        """Run an RQ worker (with the periodic-task beat) against REDIS_URL; it rides out Redis outages."""
        from app.platform.jobs import run_worker, uses_embedded_queue

        if uses_embedded_queue(current_app):
            raise click.ClickException("REDIS_URL is not set: jobs run inside the web process (embedded queue).")
        app = current_app._get_current_object()
        names = [q.strip() for q in queues.split(",") if q.strip()] or None
        run_worker(app, names, burst=burst, beat=not no_beat)

    @app.cli.command("mail-outbox")
    @click.option("--status", "statuses", multiple=True, type=click.Choice(["pending", "sending", "sent", "failed"]),
                  help="List messages in this status (repeatable; default: failed, pending and sending).")
    @click.option("--limit", default=50, show_default=True)
    @click.option("--retry", "retry_ids", multiple=True, type=int, help="Send this failed message again (repeatable).")
    @click.option("--retry-failed", is_flag=True, help="Send every failed message again.")
    def mail_outbox(statuses: tuple[str, ...], limit: int, retry_ids: tuple[int, ...], retry_failed: bool) -> None:
        """Show the outgoing mail queue (counts, and the messages not yet sent with their last error)."""
        from app.extensions import db
        from app.platform.mail import OutboxMessage, outbox_counts, outbox_retry

        if retry_ids or retry_failed:
            retried = outbox_retry(None if retry_failed else list(retry_ids))
            click.echo(f"{retried} failed message(s) queued again.")
        counts = outbox_counts()
        click.echo("  ".join(f"{status}: {count}" for status, count in counts.items()))
        rows = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.status.in_(statuses or ("failed", "pending", "sending")))
            .order_by(OutboxMessage.id.desc()).limit(limit)
        )
        for row in rows:
            click.echo(f"#{row.id} {row.status:<7} tries={row.attempts} next={row.next_attempt_at:%Y-%m-%d %H:%M:%S} "
                       f"to={row.recipient} subject={row.subject!r}")
            if row.last_error:
                click.echo(f"    last error: {row.last_error}")

    @app.cli.command("reconcile-jobs")
    def reconcile_jobs() -> None:
        """Repair job rows stuck queued/running with no live job (also runs every minute)."""
        from app.platform.jobs import reconcile, uses_embedded_queue

        if uses_embedded_queue(current_app):
            # This process would see its own empty in-memory queue and re-queue every job the web process runs.
            raise click.ClickException("REDIS_URL is not set: the web process's embedded worker reconciles "
                                       "its own jobs every minute.")
        click.echo(reconcile())

    @app.cli.command("organization-restore")
    @click.argument("slug")
    def organization_restore(slug: str) -> None:
        """Bring back an organization its admin deleted (members can sign in again)."""
        from app.accounts.services import AccountError, organization_restore as restore
        from app.platform.models import SoftDeleteError

        try:
            organization = restore(slug=slug)
        except (AccountError, SoftDeleteError) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"Restored {organization.name} ({organization.slug}).")

    @app.cli.command("operator-grant")
    @click.argument("email")
    @click.option("--revoke", is_flag=True, help="Take the operator pages away instead.")
    def operator_grant(email: str, revoke: bool) -> None:
        """Let a user see the operator pages (server-wide figures), or --revoke it."""
        from app.accounts.services import AccountError, user_set_operator

        try:
            user = user_set_operator(email=email, is_operator=not revoke)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"{user.email} {'is now' if user.is_operator else 'is no longer'} an operator.")

    @app.cli.command("db-indexes")
    @click.option("--slowest", default=20, show_default=True, help="How many slow statements to list.")
    def db_indexes(slowest: int) -> None:
        """Seed 001's index performance analyzer: sizes, scans, unused and redundant indexes, slow statements."""
        from app.extensions import db
        from app.operator.index_report import index_report, print_report

        with db.engine.connect() as connection:
            print_report(index_report(connection, slow_limit=slowest), click.echo)

    @app.cli.command("organization-tier")
    @click.argument("slug")
    @click.argument("tier", type=click.Choice(["free", "starter", "professional", "enterprise"]))
    def organization_tier(slug: str, tier: str) -> None:
        """Set an organization's subscription tier (an operator's setting: it sets the job limits)."""
        from app.accounts.services import AccountError, organization_set_tier

        try:
            organization = organization_set_tier(slug=slug, tier=tier)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"{organization.name} ({organization.slug}) is now on the {tier} tier: "
                   f"up to {organization.max_concurrent_jobs} background jobs at once.")

    @app.cli.command("purge-trash")
    def purge_trash() -> None:
        """Hard-delete soft-deleted rows past their auto_delete_at (also runs hourly)."""
        from app.platform.trash import purge_expired

        click.echo(purge_expired())


def _create_demo_organization():
    from app.accounts.models import Organization, Workspace
    from app.extensions import db

    org = Organization(name="Demo Company", slug="demo", subscription_tier="professional",
                       settings={DEMO_LOADED_SETTING: []})
    db.session.add(org)
    db.session.add_all([
        Workspace(organization=org, name="General", slug="general", description="Everyday work"),
        Workspace(organization=org, name="Marketing", slug="marketing", description="Campaign naming and exports"),
    ])
    _demo_users(org)  # commits the organization, its workspaces and users together
    return org


def _is_demo_organization(org) -> bool:
    """An organization from an older `seed-demo` (no areas recorded yet): the one with the demo admin."""
    from app.accounts.models import User
    from app.extensions import db

    return db.session.scalar(sa.select(User.organization_id).where(User.email == DEMO_USERS[0][1])) == org.id


def _demo_users(org) -> dict:
    """The demo users by handle, creating any that are missing (an organization from an older demo lacks some)."""
    from app.accounts.models import User
    from app.accounts.services import password_hash
    from app.extensions import db

    users = {}
    for handle, email, name, role in DEMO_USERS:
        user = db.session.scalars(sa.select(User).where(User.email == email)).first()
        if user is None:
            user = User(organization=org, email=email, full_name=name, role=role,
                        password_hash=password_hash(DEMO_PASSWORD),
                        availability_status="online" if role != "customer" else "offline",
                        skills=["billing", "onboarding"] if role == "agent" else [],
                        customer_tier="premium" if handle == "customer2" else "basic")
            db.session.add(user)
        elif user.organization_id != org.id:
            raise click.ClickException(f"{email} belongs to another organization; the demo can't use it.")
        users[handle] = user
    db.session.commit()
    return users


def _load_demo_area(area: str, org, users: dict) -> None:
    """Run one area's loader and the jobs it queued; any failure ends the command with a non-zero exit."""
    import importlib
    import traceback

    from app.extensions import db

    try:
        importlib.import_module(f"app.{area}.demo").load_demo(organization=org, users=users)
        _finish_demo_jobs(org.id)
    except Exception as exc:
        db.session.rollback()
        traceback.print_exc()
        raise click.ClickException(
            f"Loading the demo {area} failed: {exc}\nWhat was saved before the failure stays; fix the cause and "
            f"run `flask seed-demo` again to load the rest.") from exc


def _finish_demo_jobs(organization_id: int, timeout: float = DEMO_JOB_TIMEOUT_SECONDS) -> None:
    """Run the organization's queued jobs (a loader's generation, recompute...) now, and wait for running ones.

    `make run` starts the web process (and its embedded queue) only after this command:
    a job left queued here would wait in a queue nobody reads. Each job runs through
    `platform.jobs.execute`, as a worker would run it, in an app context of its own (it
    removes its session when done). With REDIS_URL a worker may take a job first: then
    this waits for the row to finish. A job that fails fails the command.
    """
    import time

    from app.extensions import db
    from app.platform.jobs import (
        FAILED,
        QUEUED,
        RUNNING,
        SUCCEEDED,
        execute,
        find_kind,
        job_models,
    )

    app = current_app._get_current_object()
    db.session.commit()
    rows = [(model, row.id, row.logical_status, find_kind(row)) for model in job_models()
            for row in db.session.scalars(sa.select(model).where(model.organization_id == organization_id,
                                                                  model.status_in(QUEUED, RUNNING)))]
    db.session.rollback()
    for model, row_id, status, kind in rows:
        if kind is None:
            raise RuntimeError(f"{model.__name__} #{row_id} has a job kind this process doesn't know")
        if status == QUEUED:
            with app.app_context():
                execute(kind.name, row_id)
    deadline = time.monotonic() + timeout
    for model, row_id, _status, kind in rows:
        while True:
            row = db.session.get(model, row_id, populate_existing=True)
            status = row.logical_status if row is not None else SUCCEEDED
            title, error = (kind.title(row), row.error_message) if row is not None else ("", "")
            db.session.rollback()
            if status == SUCCEEDED:
                break
            if status == FAILED:
                raise RuntimeError(f"{title} failed: {error}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{title} did not finish within {timeout:.0f} seconds (it is still {status}; "
                                   "is a worker running?)")
            time.sleep(0.2)
