"""Units of a price: ``"KG"``, ``"1.1 KG"``, ``"400 G"``, ``"MT"``, ``"L"``, ``"30 pcs"``...

WFP's price data gives each price "per unit", the unit being a free label from
WFP's unit list: an optional quantity and a unit word. :func:`parse_unit` turns it
into a quantity of a base unit and a dimension, so that prices in different units
can be compared per base unit (a kilogram, a litre, a piece):

* mass, base kg: ``G`` 0.001, ``KG`` 1, ``MT`` (metric tonne) 1000, ``LB`` 0.45359237;
* volume, base L: ``ML`` 0.001, ``L`` 1, ``Cubic meter`` 1000, ``Gallon`` 3.785411784;
* count, base one piece: ``Unit``, ``piece``, ``pcs``, ``Dozen`` (12), ``Pair`` (2);
* any other word (``Bunch``, ``Head``, ``Packet``, ``Day``, ``USD/LCU``...) is its own
  dimension with quantity 1: such prices compare only with prices in the same word.

Conversion factors: BIPM, The International System of Units (SI Brochure, 9th
ed., 2019), table 8 (tonne, litre) and NIST Special Publication 811 (2008),
appendix B (pound, US gallon).

A kg/tonne or g/kg mix-up (a price per kg recorded under ``MT``, or the reverse)
makes a price about 1000 times too large or too small per base unit:
:data:`MISMATCH_LOW` and :data:`MISMATCH_HIGH` bound the factor (in decades) that
is read as such a mix-up rather than as a price movement.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["MISMATCH_HIGH", "MISMATCH_LOW", "Unit", "is_unit_mismatch", "parse_unit"]

#: |log10(price / reference)| between these bounds is a unit mix-up of a factor of
#: 1000 (kg/tonne, g/kg, mL/L), read with half a decade of tolerance on each side:
#: a factor of 316 to 3162. Real price movements of that size from one month to the
#: next (or between markets of one country in one month) are not seen in WFP data;
#: the worst documented siege prices were of the order of 10 to 100 times.
MISMATCH_LOW = 2.5
MISMATCH_HIGH = 3.5

_WORDS: dict[str, tuple[str, float]] = {
    "g": ("mass", 0.001),
    "gr": ("mass", 0.001),
    "gram": ("mass", 0.001),
    "grams": ("mass", 0.001),
    "kg": ("mass", 1.0),
    "kgs": ("mass", 1.0),
    "kilogram": ("mass", 1.0),
    "mt": ("mass", 1000.0),
    "tonne": ("mass", 1000.0),
    "tonnes": ("mass", 1000.0),
    "ton": ("mass", 1000.0),
    "lb": ("mass", 0.45359237),
    "lbs": ("mass", 0.45359237),
    "pound": ("mass", 0.45359237),
    "ml": ("volume", 0.001),
    "cl": ("volume", 0.01),
    "l": ("volume", 1.0),
    "litre": ("volume", 1.0),
    "liter": ("volume", 1.0),
    "cubic meter": ("volume", 1000.0),
    "cubic metre": ("volume", 1000.0),
    "m3": ("volume", 1000.0),
    "gallon": ("volume", 3.785411784),
    "unit": ("count", 1.0),
    "units": ("count", 1.0),
    "piece": ("count", 1.0),
    "pieces": ("count", 1.0),
    "pcs": ("count", 1.0),
    "pc": ("count", 1.0),
    "dozen": ("count", 12.0),
    "pair": ("count", 2.0),
}
_UNIT = re.compile(r"^\s*(\d+(?:[.,]\d+)?)?\s*(.*?)\s*$")


@dataclass(frozen=True)
class Unit:
    """``quantity`` base units of ``dimension`` (``"mass"`` in kg, ``"volume"`` in L,
    ``"count"`` in pieces, or the unit word itself)."""

    label: str
    quantity: float
    dimension: str

    def per_base(self, price: float) -> float:
        """The price of one base unit (a kg, a litre, a piece)."""
        return price / self.quantity


@lru_cache(maxsize=4096)
def parse_unit(label: str) -> Unit:
    """``"1.1 KG"`` -> 1.1 kg of mass; ``"Bunch"`` -> 1 of dimension ``"bunch"``."""
    match = _UNIT.match(label)
    number, word = (match.group(1), match.group(2)) if match else (None, label)
    key = " ".join(word.casefold().split())
    quantity = float(number.replace(",", ".")) if number else 1.0
    if not math.isfinite(quantity) or quantity <= 0:
        quantity = 1.0
    if key in _WORDS:
        dimension, factor = _WORDS[key]
        return Unit(label, quantity * factor, dimension)
    return Unit(label, quantity, key or "unit")


def is_unit_mismatch(price: float, reference: float) -> bool:
    """Whether ``price`` is about 1000 times or 1/1000 of ``reference`` (both > 0)."""
    decades = abs(math.log10(price / reference))
    return MISMATCH_LOW <= decades <= MISMATCH_HIGH
