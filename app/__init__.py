"""Cairn application factory, in small named steps (cookiecutter-flask style)."""
from __future__ import annotations

import logging
import os

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.config import Config, check_secret_key
from app.platform.validation import ModelValidationError


def create_app(config: type | dict | None = None) -> Flask:
    app = Flask(__name__, template_folder="../templates", static_folder="../static", instance_relative_config=False)
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    check_secret_key(app)
    configure_logging(app)
    configure_proxy(app)
    ensure_directories(app)
    register_extensions(app)
    register_input_parsing(app)
    register_blueprints(app)
    register_security(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def configure_logging(app: Flask) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_proxy(app: Flask) -> None:
    hops = app.config.get("PROXY_FIX_HOPS", 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def ensure_directories(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        os.makedirs(os.path.dirname(uri[len("sqlite:///"):]) or ".", exist_ok=True)
    os.makedirs(app.config["STORAGE_DIR"], exist_ok=True)


def register_extensions(app: Flask) -> None:
    from app.extensions import csrf, db, login_manager, migrate
    from app.platform import hooks, idempotency, jobs, mail, storage, transactions, trash, usage  # noqa: F401  (mail, storage, trash register periodic tasks)

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.sign_in"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # sessions are server-side rows (accounts.UserSession)
    hooks.install()
    jobs.init_app(app)
    usage.init_app(app)
    transactions.init_app(app)
    idempotency.init_app(app)
    _configure_sqlite(app)
    _configure_postgresql(app)


def _configure_postgresql(app: Flask) -> None:
    """Every PostgreSQL connection runs in UTC, whatever the server's or database's `timezone` setting: text
    made in SQL (CSV through COPY, to_char, date_trunc) then means the same instant on every server."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    import sqlalchemy as sa

    from app.extensions import db

    with app.app_context():
        @sa.event.listens_for(db.engine, "connect")
        def _utc(dbapi_connection, _record):
            # The server reports its session zone when the connection opens: no round trip when it is UTC
            # already (each one counts in a short job's work-horse, which opens a connection per job).
            if dbapi_connection.info.parameter_status("TimeZone") == "UTC":
                return
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET TIME ZONE 'UTC'")
            dbapi_connection.commit()  # a session setting made in a rolled-back transaction would be undone


def _configure_sqlite(app: Flask) -> None:
    """SQLite: enforce foreign keys (ON DELETE CASCADE) and let the worker thread and web share the file."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    import sqlalchemy as sa

    from app.extensions import db

    with app.app_context():
        engine = db.engine

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            if app.config["SQLALCHEMY_DATABASE_URI"] not in ("sqlite://", "sqlite:///:memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()


def register_input_parsing(app: Flask) -> None:
    """Ids, numbers and text read one way (platform.parsing); before the blueprints, whose routes use `int`."""
    from app.platform.parsing import init_app

    init_app(app)


def register_blueprints(app: Flask) -> None:
    from app.accounts import bp as accounts_bp
    from app.core import bp as core_bp
    from app.exports import bp as exports_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(accounts_bp)
    from app.projects import api_bp as projects_api_bp, bp as projects_bp

    app.register_blueprint(projects_bp)
    app.register_blueprint(projects_api_bp)
    app.register_blueprint(exports_bp)
    from app.operator import bp as operator_bp

    app.register_blueprint(operator_bp)
    from app.rules import api_bp as rules_api_bp, bp as rules_bp

    app.register_blueprint(rules_bp)
    app.register_blueprint(rules_api_bp)
    from app.tickets import bp as tickets_bp

    app.register_blueprint(tickets_bp)
    from app.api_docs import bp as api_docs_bp

    app.register_blueprint(api_docs_bp)
    from app.platform import undo

    undo.init_app(app)


def register_security(app: Flask) -> None:
    from app.platform import customer_access
    from app.platform.security import init_app

    init_app(app)
    customer_access.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    from app.api_docs import api_error_wanted
    from app.platform.htmx import is_htmx

    def render_error(status: int, title: str, message: str, error: Exception | None = None):
        # An abort() with its own description (abort(422, description=...)) says what was wrong.
        described = getattr(error, "description", None)
        if described and isinstance(error, HTTPException) and described != type(error).description:
            message = described
        if status >= 500:
            from app.extensions import db

            db.session.rollback()  # the failed request may have left the session mid-transaction
        if api_error_wanted():  # a URL no API route matched (/api/projects/abc/): the API's JSON error shape
            from app.platform import json_api

            return json_api.error(status, message)
        template = "errors/_error.html" if is_htmx() else "errors/error.html"
        return render_template(template, status=status, title=title, message=message), status

    messages = {
        400: ("Bad request", "The request could not be understood."),
        403: ("Not allowed", "Your role doesn't give you access to this page."),
        404: ("Not found", "There is nothing here, or it belongs to someone else."),
        405: ("Not allowed", "That action isn't available here."),
        410: ("Gone", "This link has expired."),
        413: ("Too large", "The upload is larger than allowed."),
        422: ("Check the form", "Some of what you entered needs fixing."),
        429: ("Slow down", "Too many requests. Wait a moment and try again."),
        500: ("Something went wrong", "The error has been logged. Try again, and tell us if it keeps happening."),
    }
    for status, (title, message) in messages.items():
        app.register_error_handler(status, lambda e, s=status, t=title, m=message: render_error(s, t, m, e))

    @app.errorhandler(ModelValidationError)
    def invalid_row(error):
        # A view that didn't catch its service's validation error: the user still gets the message, not a 500.
        from app.extensions import db

        db.session.rollback()
        return render_error(422, "Check what you entered", " ".join(error.messages()))

    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

    @app.errorhandler(ObjectDeletedError)
    @app.errorhandler(StaleDataError)
    @app.errorhandler(IntegrityError)
    def deleted_meanwhile(error):
        # The row went away between loading it and using it (deleted in another tab, or by another member):
        # a 404 saying so, not a 500. Other integrity errors (a unique key a view didn't check) stay 500s.
        from app.extensions import db

        db.session.rollback()
        if isinstance(error, IntegrityError) and not _is_foreign_key_violation(error):
            raise error
        app.logger.warning("row deleted during %s %s: %s", request.method, request.path,
                           str(error).splitlines()[0][:200])
        return render_error(404, "Not found", "It was deleted in the meantime. Go back and reload the page.")

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(400, "Form expired", "The form's security token was missing or expired. Reload the page and try again.")


def _is_foreign_key_violation(error) -> bool:
    """PostgreSQL SQLSTATE 23503, or SQLite's "FOREIGN KEY constraint failed"."""
    original = getattr(error, "orig", None)
    return (getattr(original, "sqlstate", None) == "23503"
            or "FOREIGN KEY constraint failed" in str(original or ""))


def register_template_helpers(app: Flask) -> None:
    from flask_login import current_user

    from app.platform import formatting
    from app.platform.features import EXPERIMENTAL_FEATURES, feature_enabled
    from app.platform.jobs import kind_of
    from app.platform.models import utcnow
    from app.platform.tenancy import current_workspace_choice, organization_workspaces
    from app.platform.timezones import local_today, zone_label

    formatting.init_app(app)

    @app.context_processor
    def inject_globals():
        workspaces = organization_workspaces()
        prefs = current_user.preferences if current_user.is_authenticated else None
        return {
            "current_workspace": current_workspace_choice() if current_user.is_authenticated else None,
            "nav_workspaces": workspaces,
            "ui_theme": prefs.ui_theme if prefs else "auto",
            "feature_enabled": feature_enabled,
            "experimental_features": EXPERIMENTAL_FEATURES,
            "embedded_queue": app.extensions.get("cairn_embedded_queue", False),
            "job_kind": kind_of,
            "now_utc": utcnow,
            "local_today": local_today,
            "zone_label": zone_label,
        }


def register_commands(app: Flask) -> None:
    from app.cli import register

    register(app)
