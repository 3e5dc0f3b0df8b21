"""Pages for the people who run the Cairn server (operators), not for any organization's members.

Anyone can sign up and administer an organization of their own, so a tenant admin
is a stranger to the server: what these pages show (the database's indexes and
statements across all organizations) is for operators only. A user becomes one
through `flask operator-grant EMAIL` on the server; no page can grant it.
"""
from flask import Blueprint

bp = Blueprint("operator", __name__, url_prefix="/operator")

from app.operator import views  # noqa: E402,F401
