"""Property-based checks: random claims, random records, random disclosure subsets."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearinghouse.protocol.packet import issue_packet, make_view, verify_view
from clearinghouse.protocol.schemas import get_schema
from clearinghouse.protocol.sdjwt import conceal, process
from tests.support import NOW, Federation

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(min_size=1, max_size=8).filter(lambda k: k not in ("_sd", "...")),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)
claims_dicts = st.dictionaries(
    st.text(min_size=1, max_size=8).filter(lambda k: k not in ("_sd", "...", "_sd_alg")),
    json_values,
    max_size=6,
)


@given(claims=claims_dicts, decoys=st.integers(0, 5))
def test_conceal_then_process_is_identity(claims: dict[str, Any], decoys: int) -> None:
    digests, disclosures = conceal(claims, random.Random(len(claims)).randbytes, decoys=decoys)
    got, landed = process({"_sd": digests}, disclosures)
    assert got == claims
    assert len(landed) == len(disclosures)


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)
market_prices = st.fixed_dictionaries(
    {
        "date": st.dates(date(1990, 1, 1), date(2030, 12, 31)).map(date.isoformat),
        "market": names,
        "commodity": names,
        "unit": names,
        "currency": st.from_regex(r"\A[A-Z]{3}\Z"),
        "price": st.floats(0, 1e9, allow_nan=False),
    },
    optional={
        "admin1": names,
        "admin2": names,
        "market_id": st.integers(0, 10**6),
        "latitude": st.floats(-90, 90),
        "longitude": st.floats(-180, 180),
        "category": names,
        "price_type": st.sampled_from(["Retail", "Wholesale"]),
        "usd_price": st.floats(0, 1e6, allow_nan=False),
    },
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(record=market_prices, data=st.data())
def test_any_subset_of_a_random_record_verifies_to_exactly_that_subset(
    federation: Federation, record: dict[str, Any], data: st.DataObject
) -> None:
    packet = issue_packet(
        record,
        schema="market-price/1",
        issuer="undp",
        key=federation.keys["undp"],
        kid=federation.kid("undp"),
        now=NOW,
        pseudonym_key=federation.pseudonym_key,
        pseudonym_epoch=federation.pseudonym_epoch,
    )
    full = verify_view(packet.sd_jwt, federation.manifest, recipient=None, now=NOW).claims
    expected_record = get_schema("market-price/1").validate_record(record)
    derived = {d.claim for d in get_schema("market-price/1").derivations}
    assert {k: v for k, v in full.items() if k not in derived} == expected_record
    assert full["month"] == record["date"][:7]
    subset = data.draw(st.sets(st.sampled_from(sorted(full))))
    view = make_view(packet.sd_jwt, subset)
    got = verify_view(view, federation.manifest, recipient=None, now=NOW)
    assert dict(got.claims) == {k: v for k, v in full.items() if k in subset}
    assert got.ref == packet.ref
