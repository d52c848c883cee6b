"""The drawer's decision chain in Chromium: "Why this order?", each link checked and clickable."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from provenant.store.tables import artifacts
from tests.support.browser import null_words_in, serve_app
from tests.support.chain import store_chain

pytestmark = pytest.mark.browser


@pytest.fixture
def served(sqlite_services):
    """A stored chain whose signal was edited in the database afterwards, served."""
    services = sqlite_services
    chain = store_chain(services)
    with services.engine.begin() as conn:
        conn.execute(update(artifacts).where(artifacts.c.id == chain["signal"].id)
                     .values(payload={"action": "SELL", "confidence": 0.7}))
    services.artifacts.add_inputs(chain["weekly"].id, [chain["daily"].id], inferred=True)
    with serve_app(services) as url:
        yield url, chain


def test_why_this_order_shows_the_chain_and_opens_each_link(page, served):
    url, chain = served
    page.goto(f"{url}/artifacts/{chain['order'].id}")
    section = page.get_by_test_id("decision-chain")
    assert section.get_by_role("heading").inner_text() == "Why this order?"
    nodes = section.get_by_test_id("chain-node")
    assert [int(n) for n in nodes.evaluate_all("els => els.map(e => e.dataset.artifactId)")] == [
        chain["order"].id, chain["signal"].id, chain["llm"].id, chain["daily"].id,
        chain["weekly"].id]
    states = dict(zip(nodes.evaluate_all("els => els.map(e => +e.dataset.artifactId)"),
                      section.get_by_test_id("chain-verification").all_inner_texts()))
    assert states == {chain["order"].id: "Verified", chain["signal"].id: "Changed",
                      chain["llm"].id: "Verified", chain["daily"].id: "Verified",
                      chain["weekly"].id: "Verified"}
    changed = section.locator(f'li[data-artifact-id="{chain["signal"].id}"]')
    assert "no longer matches its content_sha256" in changed.inner_text()
    inferred = section.locator(f'li[data-artifact-id="{chain["daily"].id}"]')
    assert inferred.get_by_test_id("chain-inferred").inner_text() == "inferred link"
    assert null_words_in(section) == []

    # A link opens that artifact's drawer in place, with its own (shorter) chain.
    section.locator(f'a[data-artifact-id="{chain["llm"].id}"]').click()
    page.wait_for_selector(f'section.drawer[data-artifact-id="{chain["llm"].id}"]')
    assert page.url.endswith(f"/artifacts/{chain['llm'].id}")
    again = page.get_by_test_id("decision-chain")
    assert again.get_by_role("heading").inner_text() == "Decision chain"
    assert again.get_by_test_id("chain-node").count() == 3


def test_a_chart_without_inputs_shows_no_chain(page, served):
    url, chain = served
    page.goto(f"{url}/artifacts/{chain['daily'].id}")
    page.wait_for_selector("section.drawer")
    assert page.get_by_test_id("decision-chain").count() == 0
