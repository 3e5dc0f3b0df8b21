"""A Redis that accepts connections but never answers (hung, overloaded, a half-open connection) costs a
request a few seconds, not forever: every client has socket timeouts. The worker's own client waits longer
than its blocking wait for a job (RQ's BLPOP), so an idle worker is not cut off by its own timeout.

The silent server is a socket server in this test: it accepts, reads and says nothing.
"""
from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest
import redis

from tests.conftest import make_test_app


@pytest.fixture(scope="module")
def silent_redis():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stopping = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stopping.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)  # kept open, read by nobody: commands wait for a reply that never comes

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stopping.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture(scope="module")
def hung_app(app, backend, silent_redis):
    return make_test_app(backend, REDIS_URL=silent_redis, REDIS_SOCKET_TIMEOUT=0.5,
                         REDIS_SOCKET_CONNECT_TIMEOUT=0.5)


def test_a_redis_that_never_answers_times_out(hung_app):
    from app.platform.jobs import get_connection

    with hung_app.app_context():
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            get_connection().ping()
        assert time.monotonic() - started < 3


def test_the_worker_presence_check_gives_up_quickly(hung_app):
    """The job panel asks whether a worker is alive: with Redis hung it says "can't tell" within the timeout."""
    from app.platform.jobs import workers_alive

    with hung_app.test_request_context("/"):
        started = time.monotonic()
        assert workers_alive() is None
        assert time.monotonic() - started < 3


def test_web_and_worker_clients_have_their_own_timeouts(hung_app):
    from app.platform.jobs import worker_connection, worker_dequeue_timeout

    with hung_app.app_context():
        web = hung_app.extensions["cairn_redis"].connection_pool.connection_kwargs
        assert web["socket_timeout"] == 0.5 and web["socket_connect_timeout"] == 0.5
        assert web["health_check_interval"] == hung_app.config["REDIS_HEALTH_CHECK_INTERVAL"]
        worker = worker_connection(hung_app).connection_pool.connection_kwargs
        assert worker_dequeue_timeout(hung_app) == hung_app.config["WORKER_TTL_SECONDS"] - 15
        # RQ's rule: the reply to a BLPOP of the dequeue timeout must come within the socket timeout
        assert worker["socket_timeout"] == worker_dequeue_timeout(hung_app) + 10
        assert worker["socket_connect_timeout"] == 0.5
        assert worker_connection(hung_app).connection_pool is not hung_app.extensions["cairn_redis"].connection_pool


def test_an_idle_worker_waits_out_its_blocking_dequeue(app, backend):
    """Against a real Redis: the worker's BLPOP (2 s here) ends empty-handed (DequeueTimeout), not with a socket TimeoutError,
    although the app's own client would give up after 0.5 s."""
    if not backend["redis"]:
        pytest.skip("mode restriction: needs a real Redis (TEST_REDIS_URL); the embedded queue never blocks")
    from rq import Queue
    from rq.exceptions import DequeueTimeout

    from app.platform.jobs import make_worker

    application = make_test_app(backend, REDIS_SOCKET_TIMEOUT=0.5, WORKER_TTL_SECONDS=17)
    queue_name = f"idle-{uuid.uuid4().hex[:8]}"
    worker = make_worker(application, [queue_name])
    assert worker.dequeue_timeout == 2
    assert worker.connection.connection_pool.connection_kwargs["socket_timeout"] == 12
    started = time.monotonic()
    with pytest.raises(DequeueTimeout):  # "no job came": the worker loop heartbeats and waits again
        Queue.dequeue_any([Queue(queue_name, connection=worker.connection)], worker.dequeue_timeout,
                          connection=worker.connection)
    assert 1.5 < time.monotonic() - started < 10
    with pytest.raises(redis.TimeoutError):  # what the worker would hit on the app's client
        application.extensions["cairn_redis"].blpop([f"rq:queue:{queue_name}"], timeout=2)
