"""Areas join by the data's own names, for any country: no table."""

from __future__ import annotations

import csv
import gzip

import yaml

from clearinghouse.analyzers.illicit_economy import IllicitEconomyAnalyzer
from clearinghouse.analyzers.illicit_economy._names import (
    country_key,
    join_areas,
    name_key,
    skeleton,
)
from clearinghouse.analyzers.offline import OfflineRun, final_picture
from tests.analyzers.illicit_economy._support import event_record, months, price_record
from tests.support import EXAMPLES

DATA = EXAMPLES / "data"


def test_name_keys_strip_admin_words_in_several_languages() -> None:
    assert name_key("Aleppo governorate") == name_key("Aleppo") == "aleppo"
    assert name_key("Mopti Region") == name_key("Région de Mopti".replace(" de ", " ")) == "mopti"
    assert name_key("Wilayat Kassala") == name_key("Kassala State") == "kassala"
    assert name_key("Muhafazat Halab") == "halab"
    assert name_key("Rif Dimashq") == name_key("Rural Dimashq") == "rural dimashq"
    assert skeleton("Al-Hasakeh") == skeleton("Al Hasakah Governorate")
    assert skeleton("Tombouctou") == skeleton("Timbuktu region")
    assert skeleton("Hama") != skeleton("Homs")


def test_countries_resolve_with_pycountry() -> None:
    assert country_key("Syria") == "SYR" and country_key("Mali") == "MLI"
    assert country_key("Yemen (North Yemen)") == "YEM"
    assert country_key("DR Congo (Zaire)") == "COD" and country_key("Congo") == "COG"
    assert country_key("Bosnia-Herzegovina") == "BIH"
    assert country_key("Atlantis").startswith("?")


def test_the_shipped_syrian_names_join_one_to_one() -> None:
    with gzip.open(DATA / "wfp_food_prices_syr.csv.gz", "rt", encoding="utf-8") as f:
        wfp = {r["admin1"] for r in csv.DictReader(f) if r["admin1"] and r["admin1"][0] != "#"}
    with (DATA / "ucdp_ged_syria_2016_2019.csv").open(encoding="utf-8") as f:
        ucdp = {r["adm_1"] for r in csv.DictReader(f) if r["adm_1"]}
    join = join_areas(tuple(sorted(wfp)), tuple(sorted(ucdp)))
    assert len(join.pairs) == 14 and not join.unjoined_prices and not join.unjoined_conflict
    assert join.pairs["Rural Damascus"] == ("Rif Dimashq Governorate",)
    assert join.pairs["Damascus"] == ("Damascus Governorate",)
    assert join.pairs["Idleb"] == ("Idlib Governorate",)


def test_a_mali_price_area_joins_its_ucdp_region_without_a_table() -> None:
    config = yaml.safe_load((EXAMPLES / "federation.yaml").read_text())
    run = OfflineRun.start(IllicitEconomyAnalyzer(), config, participant="undp", issuer="undp")
    commodities = ("Millet", "Sorghum", "Maize", "Rice (imported)", "Cowpeas", "Sugar")
    prices = []
    for i, month in enumerate(months("2019-01", 16)):
        for j, commodity in enumerate(commodities):
            price = 100.0 * (j + 1) * (1.01**i) * (1.03 if (i + j) % 2 else 1.0)
            if commodity == "Millet" and month == "2020-04":
                price *= 3  # a blockade
            prices.append(price_record(month, round(price, 2), commodity=commodity))
    prices.append(price_record("2020-04", 300.0, market="Bamako", admin1="Bamako"))
    views = run.views("market-price/1", prices)
    events = [event_record("2020-04", n) for n in range(1, 4)] + [
        event_record("2020-03", 9, admin1="Timbuktu region")
    ]
    events_run = OfflineRun(run.analyzer, run.manifest, run.keys, "undp", "mission", run.state)
    views += events_run.views("conflict-event/1", events)
    picture = final_picture(IllicitEconomyAnalyzer(), views)
    (anomaly,) = [f for f in picture.findings if f["kind"] == "price-anomaly"]
    assert anomaly["period"] == "2020-04" and anomaly["country"] == "Mali"
    assert anomaly["admin1"] == "Mopti region" and anomaly["area"] == "Mopti"
    assert anomaly["indicators"]["conflict_events"] == 3
    assert (
        anomaly["indicators"]["fatality_index"] == 3 * 11.0
    )  # three events in band 5-24, at its geometric midpoint
    join = picture.summary["join"]["MLI"]
    assert join["pairs"] == {"Mopti": ["Mopti region"]}
    assert join["unjoined_price_areas"] == ["Bamako"]
    assert join["unjoined_conflict_areas"] == ["Timbuktu region"]
