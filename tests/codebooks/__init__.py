"""Generators of source rows from each source's codebook value lists (test fixtures).

Each module writes rows as the source publishes them, drawing every coded value
from the list its codebook documents, never from the project's own data files:

* :mod:`tests.codebooks.ucdp_ged`: UCDP GED events, 19.1 layout and the global
  layout (23.1-24.1 and 25.1+), for several countries;
* :mod:`tests.codebooks.wfp_prices`: WFP food prices in HDX's layout with its HXL row;
* :mod:`tests.codebooks.unodc_seizures`: UNODC annual drug seizures.

They are deterministic for a given seed. Events, prices and quantities are
synthetic: use them to test that importers and analyzers accept and handle every
documented value on any country, never as facts about a country.
"""
