"""On PostgreSQL a request that only read ends its transaction with COMMIT (so psycopg keeps its
prepared statements); one that wrote, or failed, is rolled back as before. Searches plan each statement."""
import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.extensions import db
from app.platform.transactions import plan_each_statement


@pytest.fixture()
def transaction_ends(app, backend):
    if not backend["postgres"]:
        pytest.skip("PostgreSQL only: SQLite keeps no prepared statements, and its requests still roll back")
    ends: list[str] = []
    with app.app_context():
        engine = db.engine

    def on_commit(_conn):
        ends.append("commit")

    def on_rollback(_conn):
        ends.append("rollback")

    sa.event.listen(engine, "commit", on_commit)
    sa.event.listen(engine, "rollback", on_rollback)
    yield ends
    sa.event.remove(engine, "commit", on_commit)
    sa.event.remove(engine, "rollback", on_rollback)


def test_a_read_only_request_commits(app, admin, transaction_ends):
    with app.app_context():  # a context of its own: its end runs the teardowns
        assert db.session.scalars(sa.select(User.email).where(User.id == admin.id)).one() == admin.email
        transaction_ends.clear()
    assert transaction_ends == ["commit"]


def test_a_request_that_wrote_is_rolled_back_not_committed(app, admin, transaction_ends):
    with app.app_context():  # a context of its own: its end runs the teardowns
        db.session.execute(sa.update(User).where(User.id == admin.id).values(full_name="Half saved"))
        transaction_ends.clear()
    assert transaction_ends == ["rollback"]
    with app.app_context():
        assert db.session.get(User, admin.id).full_name != "Half saved"


def test_pending_objects_are_never_committed_by_the_teardown(app, admin, transaction_ends):
    with app.app_context():  # a context of its own: its end runs the teardowns
        user = db.session.get(User, admin.id)
        user.full_name = "Not flushed"
        transaction_ends.clear()
    assert "commit" not in transaction_ends
    with app.app_context():
        assert db.session.get(User, admin.id).full_name != "Not flushed"


def test_a_failed_request_is_rolled_back(app, admin, transaction_ends):
    with pytest.raises(RuntimeError):
        with app.app_context():  # a context of its own: its end runs the teardowns
            db.session.scalars(sa.select(User.id)).all()
            transaction_ends.clear()
            raise RuntimeError("the view failed")
    assert transaction_ends == ["rollback"]


def test_a_search_plans_each_statement_for_its_values(app, admin, transaction_ends):
    with app.app_context():  # a context of its own: its end runs the teardowns
        plan_each_statement()
        assert db.session.scalar(sa.select(sa.func.current_setting("plan_cache_mode"))) == "force_custom_plan"
        transaction_ends.clear()
    assert transaction_ends == ["commit"]  # set_config(..., true) is a SELECT: still a read-only request
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.current_setting("plan_cache_mode"))) == "auto"  # it ended with the transaction
