"""WFP food-price rows in HDX's layout (with its HXL row), generated from WFP's value lists.

API (deterministic for a given ``seed``)::

    from tests.codebooks import wfp_prices

    rows = wfp_prices.rows("Mali", 300, seed=1)                  # list of {column: cell}
    path = wfp_prices.write_csv(tmp_path / "wfp_food_prices_mli.csv", rows)
    path = wfp_prices.write_csv(tmp_path / "prix.csv", rows, headers=wfp_prices.FRENCH)

The file is HDX's: line 1 the column names (:data:`COLUMNS`, or others given as
``headers``, as a translated or renamed export would have), line 2 the HXL hashtags
(:data:`HXL`), then the prices. Values come from the lists WFP publishes under:
``priceflag`` ``actual``, ``aggregate``, ``forecast`` and combinations
(``actual,aggregate``); ``pricetype`` Retail, Wholesale, Producer, Farm Gate; units
as WFP writes them (``KG``, ``1.1 KG``, ``25 KG``, ``MT``, ``L``, ``Packet``,
``Head``, ``USD/LCU`` for exchange-rate series...); commodity names with commas
(quoted cells); ``usdprice`` left empty where WFP has no exchange rate; markets
without coordinates or admin areas. Prices are synthetic.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from tests.codebooks.ucdp_ged import country_of

__all__ = [
    "COLUMNS",
    "CURRENCIES",
    "FRENCH",
    "HXL",
    "PRICE_FLAGS",
    "PRICE_TYPES",
    "UNITS",
    "rows",
    "write_csv",
]

COLUMNS: tuple[str, ...] = (
    "date",
    "admin1",
    "admin2",
    "market",
    "market_id",
    "latitude",
    "longitude",
    "category",
    "commodity",
    "commodity_id",
    "unit",
    "priceflag",
    "pricetype",
    "currency",
    "price",
    "usdprice",
)
HXL: tuple[str, ...] = (
    "#date",
    "#adm1+name",
    "#adm2+name",
    "#loc+market+name",
    "#loc+market+code",
    "#geo+lat",
    "#geo+lon",
    "#item+type",
    "#item+name",
    "#item+code",
    "#item+unit",
    "#item+price+flag",
    "#item+price+type",
    "#currency+code",
    "#value",
    "#value+usd",
)
#: The same columns named otherwise (a translated export): only the HXL row finds them.
FRENCH: tuple[str, ...] = (
    "Date",
    "Région",
    "Cercle",
    "Marché",
    "Code marché",
    "Lat",
    "Lon",
    "Catégorie",
    "Produit",
    "Code produit",
    "Unité",
    "Type de donnée",
    "Type de prix",
    "Devise",
    "Prix",
    "Prix USD",
)

PRICE_FLAGS = ("actual", "aggregate", "forecast", "actual,aggregate")
PRICE_TYPES = ("Retail", "Wholesale", "Producer", "Farm Gate")
UNITS = ("KG", "1.1 KG", "25 KG", "50 KG", "MT", "L", "Packet", "Head", "Day", "USD/LCU")
#: ISO 3166 alpha-3 -> ISO 4217 currency of the country's prices.
CURRENCIES: Mapping[str, str] = {
    "MLI": "XOF",
    "COD": "CDF",
    "COL": "COP",
    "MMR": "MMK",
    "UKR": "UAH",
    "SDN": "SDG",
    "SYR": "SYP",
}
#: (category, commodity, commodity id, units it is sold in, rough USD price per unit).
_COMMODITIES: tuple[tuple[str, str, int, tuple[str, ...], float], ...] = (
    ("cereals and tubers", "Maize (white)", 51, ("KG", "MT", "50 KG"), 0.35),
    ("cereals and tubers", "Rice (imported)", 65, ("KG", "25 KG"), 0.9),
    ("cereals and tubers", "Bread (bakery, parallel market)", 893, ("1.1 KG", "Packet"), 0.5),
    ("cereals and tubers", "Millet", 58, ("KG",), 0.4),
    ("pulses and nuts", "Beans (red, dry)", 87, ("KG",), 1.2),
    ("oil and fats", "Oil (vegetable, imported)", 96, ("L",), 2.0),
    ("meat, fish and eggs", "Livestock (goat, male, 2 years)", 412, ("Head",), 60.0),
    ("non-food", "Wage (non-qualified labour, non-agricultural)", 550, ("Day",), 4.0),
    ("non-food", "Exchange rate (unofficial)", 1010, ("USD/LCU",), 1.0),
)
_USD_RATE: Mapping[str, float] = {
    "XOF": 600.0,
    "CDF": 2500.0,
    "COP": 4000.0,
    "MMK": 2100.0,
    "UAH": 37.0,
    "SDG": 600.0,
    "SYP": 2500.0,
}


def rows(
    country: str, n: int, *, seed: int = 0, years: tuple[int, int] = (2015, 2023)
) -> list[dict[str, str]]:
    """``n`` price rows (column of :data:`COLUMNS` -> cell) for ``country`` (a name,
    short name, ISO3 or Gleditsch-Ward number known to :mod:`tests.codebooks.ucdp_ged`)."""
    spec = country_of(country)
    rng = random.Random(f"wfp:{spec.name}:{seed}")
    currency = CURRENCIES[spec.iso3]
    out = []
    for index in range(n):
        area = rng.choice(spec.areas)
        located = rng.random() > 0.05
        category, commodity, commodity_id, units, usd = rng.choice(_COMMODITIES)
        unit = rng.choice(units)
        year, month = rng.randint(*years), rng.randint(1, 12)
        usd_price = usd * rng.uniform(0.7, 1.6) * (1000 if unit == "MT" else 1)
        if unit == "USD/LCU":
            price = _USD_RATE[currency] * rng.uniform(0.9, 1.3)
            usd_price = 1.0
        else:
            price = usd_price * _USD_RATE[currency]
        out.append(
            {
                "date": f"{year}-{month:02d}-15",
                "admin1": area.name.rsplit(" ", 1)[0] if located else "",
                "admin2": area.seat if located else "",
                "market": f"{area.seat}" if index % 3 else f"{area.seat} (central market)",
                "market_id": str(1000 + spec.areas.index(area)),
                "latitude": f"{area.latitude:.2f}" if located else "",
                "longitude": f"{area.longitude:.2f}" if located else "",
                "category": category,
                "commodity": commodity,
                "commodity_id": str(commodity_id),
                "unit": unit,
                "priceflag": rng.choice(PRICE_FLAGS),
                "pricetype": rng.choice(PRICE_TYPES) if unit != "USD/LCU" else "Retail",
                "currency": currency,
                "price": f"{price:.2f}".rstrip("0").rstrip("."),
                "usdprice": "" if rng.random() < 0.05 else f"{usd_price:.4f}",
            }
        )
    return out


def write_csv(
    path: str | Path,
    rows: Iterable[Mapping[str, str]],
    *,
    headers: Sequence[str] = COLUMNS,
    hxl: bool = True,
    compress: bool = False,
) -> Path:
    """Write ``rows`` as HDX does: ``headers`` (one per column of :data:`COLUMNS`, in
    that order), the HXL row unless ``hxl`` is false, then the prices; gzip if
    ``compress``."""
    if len(headers) != len(COLUMNS):
        raise ValueError(f"headers must name the {len(COLUMNS)} columns {COLUMNS}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    if hxl:
        writer.writerow(HXL)
    for row in rows:
        writer.writerow([row.get(column, "") for column in COLUMNS])
    data = buffer.getvalue().encode("utf-8")
    path = Path(path)
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path
