"""The common situation is a function of the data: the same events, in different orders,
through two real federations, end in identical situations at every node.

Each federation is three ``clearinghouse run`` processes over loopback (mission's
security risk, dpa's spoiler risk, undp's illicit economy). Mission issues the
same conflict events to both, in file order to one and shuffled to the other (in
several batches, so that analyses see partial tallies); each node receives the
packets and its peers' results in its own order. What every node shows once all
is delivered and analysed must be the same, finding by finding, up to the packet
ids and times that differ by construction.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest

from clearinghouse.node.localfed import LocalFederation
from tests.integration.test_federation import FAST, events, ingest, wait_settled
from tests.nodes import built_federation

pytestmark = pytest.mark.slow

MEMBERS = ("mission", "dpa", "undp")
EVENTS = events(0, 400)
#: What differs by construction between two runs: ids, times and the chain's links.
_PER_RUN = ("result", "issued_at", "input", "supersedes", "history")


@pytest.fixture(scope="module")
def feds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LocalFederation]]:
    out = {}
    try:
        for name in ("in-order", "shuffled"):
            fed = built_federation(tmp_path_factory.mktemp(name), MEMBERS, config_extra=FAST)
            out[name] = fed
            fed.start()
        for fed in out.values():
            fed.wait_ready()
        yield out
    finally:
        for fed in out.values():
            fed.stop()


def picture(fed: LocalFederation, participant: str) -> list[str]:
    """Every finding the participant's situation shows, without what differs per run."""
    with fed.nodes[participant].client("analyst", timeout=120) as client:
        response = client.get("/v1/situation")
    assert response.status_code == 200, response.text
    findings = [
        {k: v for k, v in f.items() if k not in _PER_RUN}
        for area in response.json()["areas"]
        for f in area["findings"]
    ]
    return sorted(json.dumps(f, sort_keys=True, ensure_ascii=False) for f in findings)


def test_same_events_in_any_order_give_the_same_situation(
    feds: dict[str, LocalFederation],
) -> None:
    shuffled = list(EVENTS)
    random.Random(15).shuffle(shuffled)
    assert ingest(feds["in-order"], EVENTS) == len(EVENTS)
    for start in range(0, len(shuffled), 50):
        assert ingest(feds["shuffled"], shuffled[start : start + 50]) > 0
    for fed in feds.values():
        wait_settled(fed, timeout=300)

    expected = picture(feds["in-order"], "mission")
    analyzers = {json.loads(f)["analyzer"] for f in expected}
    assert analyzers >= {"mission.security-risk", "dpa.spoiler-risk"}, analyzers
    for name, fed in feds.items():
        for participant in MEMBERS:
            assert picture(fed, participant) == expected, (name, participant)
    # The shuffled batches made findings change on the way: the chains were exercised.
    with feds["shuffled"].nodes["undp"].client("analyst", timeout=120) as client:
        chained = client.get("/v1/situation", params={"history": "true"}).json()
    versions = [f for a in chained["areas"] for f in a["findings"] if f["history"]]
    assert versions or chained["withdrawn"]
