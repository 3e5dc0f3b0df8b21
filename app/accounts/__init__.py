"""Accounts: sign-up and sign-in, members, workspaces, preferences, usage, trash, activity."""
from flask import Blueprint

bp = Blueprint("accounts", __name__)

from app.accounts import models, rules, hooks, views, tokens, recovery_views  # noqa: E402,F401
