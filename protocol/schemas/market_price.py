"""``market-price/1``: one commodity price at one market (DESIGN.md, "Record schemas").

Modelled on a row of WFP's VAM price database as published on HDX (date,
administrative areas, market with id and coordinates, commodity with category and
id, unit, price flag and type, currency, price and a USD conversion).

``usd_price`` is WFP's conversion at its exchange rate for the month (absent when
WFP has none); where rates are contested (in Syria several coexist) compare it with
``price`` in its own ``currency``, which is always present. ``unit`` is the unit as
WFP publishes it ("KG", "1.1 KG", "25 KG", "MT", "USD/LCU" for an exchange-rate
series): comparing prices across units is the analyst's step, not the record's.

No natural key: a price row has no id of its own (``market_id`` and
``commodity_id`` are optional, and one market publishes several prices of one
commodity in a month: per unit, price type and flag).
"""

from __future__ import annotations

from datetime import date as Date
from typing import Annotated

from pydantic import Field

from clearinghouse.protocol.schemas import _generalise as g
from clearinghouse.protocol.schemas._spec import RecordModel, SchemaSpec

__all__ = ["SPEC", "MarketPrice"]

Iso3 = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class MarketPrice(RecordModel):
    """The price of one commodity at one market in one period."""

    date: Date = Field(description="Date of the price; WFP monthly prices fall on the 15th.")
    country_code: Iso3 | None = Field(
        None, description="ISO 3166-1 alpha-3 code of the market's country."
    )
    admin1: str | None = Field(None, description="First-level administrative area (governorate).")
    admin2: str | None = Field(None, description="Second-level administrative area (district).")
    market: str = Field(min_length=1, description="Market name.")
    market_id: int | None = Field(None, ge=0, description="WFP market id.")
    latitude: float | None = Field(None, ge=-90, le=90, description="Market latitude, WGS 84.")
    longitude: float | None = Field(None, ge=-180, le=180, description="Market longitude, WGS 84.")
    category: str | None = Field(None, description="Commodity category, e.g. 'cereals and tubers'.")
    commodity: str = Field(min_length=1, description="Commodity, e.g. 'Wheat flour (local)'.")
    commodity_id: int | None = Field(None, ge=0, description="WFP commodity id.")
    unit: str = Field(
        min_length=1, description="Unit the price is for, as published, e.g. 'KG', '1.1 KG'."
    )
    price_flag: str | None = Field(
        None,
        description="How the price was obtained, as WFP writes it: 'actual', 'aggregate', "
        "'forecast', or a comma-separated combination such as 'actual,aggregate'.",
    )
    price_type: str | None = Field(
        None,
        description="Price type as WFP writes it: 'Retail', 'Wholesale', 'Producer', "
        "'Farm Gate'...",
    )
    currency: Iso3 = Field(description="ISO 4217 currency code of `price`, e.g. 'SYP'.")
    price: float = Field(ge=0, description="Price per unit, in `currency`.")
    usd_price: float | None = Field(
        None, ge=0, description="WFP's conversion of the price to US dollars."
    )


SPEC = SchemaSpec(
    id="market-price/1",
    title="Market price",
    model=MarketPrice,
    derivations=(
        g.month_of("date", "the price"),
        *g.coordinate_cells(),
    ),
)
