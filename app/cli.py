"""Flask CLI commands: demo data, the worker, maintenance."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask, current_app

DEMO_PASSWORD = "cairn-demo-password"
DEMO_USERS = (
    ("admin@demo.example.com", "Ada Admin", "admin"),
    ("manager@demo.example.com", "Max Manager", "manager"),
    ("agent@demo.example.com", "Alex Agent", "agent"),
    ("customer@demo.example.com", "Casey Customer", "customer"),
)


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Load the demo organization once (safe to run again)."""
        from app.accounts.models import Organization, User, Workspace
        from app.accounts.services import password_hash
        from app.extensions import db

        org = db.session.scalars(sa.select(Organization).where(Organization.slug == "demo")).first()
        if org is None:
            org = Organization(name="Demo Company", slug="demo", subscription_tier="professional")
            db.session.add(org)
            general = Workspace(organization=org, name="General", slug="general", description="Everyday work")
            marketing = Workspace(organization=org, name="Marketing", slug="marketing",
                                  description="Campaign naming and exports")
            db.session.add_all([general, marketing])
            for email, name, role in DEMO_USERS:
                user = User(organization=org, email=email, full_name=name, role=role,
                            password_hash=password_hash(DEMO_PASSWORD),
                            availability_status="online" if role != "customer" else "offline",
                            skills=["billing", "onboarding"] if role == "agent" else [])
                db.session.add(user)
            db.session.commit()
            click.echo("Demo data loaded.")
        else:
            click.echo("Demo data already present.")
        click.echo("Demo sign-ins (password for all: %s):" % DEMO_PASSWORD)
        for email, _name, role in DEMO_USERS:
            click.echo(f"  {role:<9} {email}")

    @app.cli.command("worker")
    @click.option("--queues", default="", envvar="CAIRN_WORKER_QUEUES",
                  help="Comma-separated queue names (default: all).")
    @click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
    @click.option("--no-beat", is_flag=True, help="Don't enqueue periodic tasks from this worker.")
    def worker(queues: str, burst: bool, no_beat: bool) -> None:
        """Run an RQ worker (with the periodic-task beat) against REDIS_URL."""
        from app.platform.jobs import BeatThread, make_worker, uses_embedded_queue

        if uses_embedded_queue(current_app):
            raise click.ClickException("REDIS_URL is not set: jobs run inside the web process (embedded queue).")
        app = current_app._get_current_object()
        if not burst and not no_beat:
            BeatThread(app).start()
        names = [q.strip() for q in queues.split(",") if q.strip()] or None
        make_worker(app, names).work(burst=burst, with_scheduler=not burst)

    @app.cli.command("reconcile-jobs")
    def reconcile_jobs() -> None:
        """Repair job rows stuck queued/running with no live job (also runs every minute)."""
        from app.platform.jobs import reconcile, uses_embedded_queue

        if uses_embedded_queue(current_app):
            # This process would see its own empty in-memory queue and re-queue every job the web process runs.
            raise click.ClickException("REDIS_URL is not set: the web process's embedded worker reconciles "
                                       "its own jobs every minute.")
        click.echo(reconcile())

    @app.cli.command("purge-trash")
    def purge_trash() -> None:
        """Hard-delete soft-deleted rows past their auto_delete_at (also runs hourly)."""
        from app.platform.trash import purge_expired

        click.echo(purge_expired())
