"""Shared fixtures: the demo federation (and its proposed unodc policy), real-data samples."""

from __future__ import annotations

import copy
from itertools import islice
from typing import Any

import pytest
import yaml

from clearinghouse.analyzers.base import View
from clearinghouse.analyzers.offline import OfflineRun
from clearinghouse.analyzers.trafficking_network import TraffickingNetworkAnalyzer
from clearinghouse.node.importers.ucdp import read_events
from clearinghouse.node.importers.unodc import read_seizures
from tests.support import EXAMPLES

GED = EXAMPLES / "data" / "ucdp_ged_syria_2016_2019.csv"
SEIZURES = EXAMPLES / "data" / "unodc_drug_seizures_2018_2022.csv"
#: Subregions of the seizure sample: the captagon region and the cocaine route's start.
SUBREGIONS = {"Near and Middle East/ South-West Asia", "Central America", "Caribbean"}


@pytest.fixture(scope="session")
def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLES / "federation.yaml").read_text())
    return loaded


@pytest.fixture(scope="session")
def clear_names_config(config: dict[str, Any]) -> dict[str, Any]:
    """The demo federation as another federation may set it: unodc gets seizure
    ``persons`` in clear (the demo's policy pseudonymises them: ``persons_refs``)."""
    changed = copy.deepcopy(config)
    unodc = changed["policy"]["seizure/1"]["unodc"]
    assert "persons" in unodc["pseudonymise"]
    unodc["pseudonymise"] = [f for f in unodc["pseudonymise"] if f != "persons"]
    unodc["disclose"] = [*unodc["disclose"], "persons"]
    return changed


def ged_sample() -> list[dict[str, Any]]:
    """Every 40th event of the shipped GED Syria file (~410 events, 2016-2019)."""
    return list(islice(read_events(GED), 0, None, 40))


def seizure_sample() -> list[dict[str, Any]]:
    """Every country-year total of three subregions of the shipped UNODC file."""
    return [r for r in read_seizures(SEIZURES) if r.get("subregion") in SUBREGIONS]


@pytest.fixture(scope="session")
def ged_records() -> list[dict[str, Any]]:
    return ged_sample()


@pytest.fixture(scope="session")
def ged_views(config: dict[str, Any], ged_records: list[dict[str, Any]]) -> list[View]:
    run = OfflineRun.start(
        TraffickingNetworkAnalyzer(), config, participant="unodc", issuer="mission"
    )
    return run.views("conflict-event/1", ged_records)


@pytest.fixture(scope="session")
def seizure_views(config: dict[str, Any]) -> list[View]:
    run = OfflineRun.start(
        TraffickingNetworkAnalyzer(), config, participant="unodc", issuer="unodc"
    )
    return run.views("seizure/1", seizure_sample())
