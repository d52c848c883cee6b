"""The provenance read skips the per-checkout ping and reruns on a lost connection (PostgreSQL)."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, text

from provenant import runtime
from tests.support.chain import store_chain

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_url) -> str:
    return postgres_url  # only PostgreSQL pings its pooled connections


def terminate_pooled_connection(engine) -> None:
    """End the server side of the one connection in the pool, as a restart would."""
    with engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    assert engine.pool.checkedin() == 1
    admin = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


@pytest.fixture
def lost_connections(services) -> list[str]:
    """Errors on lost connections that reached a statement (a ping catches them first)."""
    seen: list[str] = []
    event.listen(services.engine, "handle_error",
                 lambda ctx: seen.append(type(ctx.original_exception).__name__)
                 if ctx.is_disconnect else None)
    return seen


def test_provenance_after_its_connection_was_lost_answers_from_a_new_one(services,
                                                                         lost_connections):
    chain = store_chain(services)
    before = runtime.provenance(services, chain["order"].id)
    services.engine.dispose()  # one pooled connection from here on: the one we terminate
    runtime.provenance(services, chain["order"].id)
    terminate_pooled_connection(services.engine)

    after = runtime.provenance(services, chain["order"].id)
    assert after == before
    # No ping found the dead connection: the chain's own statement did, and ran again.
    assert len(lost_connections) == 1, lost_connections


def test_other_reads_still_ping_a_connection_before_using_it(services, lost_connections):
    chain = store_chain(services)
    services.engine.dispose()
    assert services.artifacts.get(chain["order"].id) is not None
    terminate_pooled_connection(services.engine)

    assert services.artifacts.get(chain["order"].id).id == chain["order"].id
    assert lost_connections == []  # the ping replaced it before the read ran
