"""``financial-flow/1``: one transfer of value between two accounts (DESIGN.md, "Record schemas").

A financial intelligence record: who sent how much to whom, through which channel,
between which countries. Accounts and names are identifiers a policy will
normally pseudonymise (``sender_account`` -> ``sender_account_ref``) so that a
trafficking-network analysis can link the same account across flows without
learning it; amounts and dates can be generalised to a band and a month.

The natural key is ``flow_id``, the reporting body's id of the transfer.
"""

from __future__ import annotations

from datetime import date as Date
from typing import Annotated, Literal

from pydantic import Field

from clearinghouse.protocol.schemas import _generalise as g
from clearinghouse.protocol.schemas._spec import Derivation, RecordModel, SchemaSpec

__all__ = ["SPEC", "Channel", "FinancialFlow"]

Iso3 = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Channel = Literal[
    "bank",
    "hawala",
    "mobile-money",
    "money-transfer-operator",
    "cash-courier",
    "crypto-asset",
    "trade-based",
    "other",
]


class FinancialFlow(RecordModel):
    """A transfer from a sender account to a receiver account."""

    flow_id: str = Field(min_length=1, description="The reporting body's id of the transfer.")
    date: Date = Field(description="Date the transfer was made.")
    sender_account: str = Field(
        min_length=1, description="Sender's account identifier (IBAN, wallet, phone, ledger id)."
    )
    receiver_account: str = Field(
        min_length=1, description="Receiver's account identifier (IBAN, wallet, phone, ledger id)."
    )
    sender_name: str | None = Field(None, description="Name of the sending person or entity.")
    receiver_name: str | None = Field(None, description="Name of the receiving person or entity.")
    amount: float = Field(gt=0, description="Amount transferred, in `currency`.")
    currency: Iso3 = Field(description="ISO 4217 currency code of `amount`.")
    sender_country: Iso3 = Field(description="ISO 3166-1 alpha-3 code of the sender's country.")
    receiver_country: Iso3 = Field(description="ISO 3166-1 alpha-3 code of the receiver's country.")
    channel: Channel = Field(description="How the value moved.")
    purpose: str | None = Field(None, description="Declared purpose of the transfer.")
    narrative: str | None = Field(
        None, description="Analyst's or reporting institution's account of why it is of interest."
    )


SPEC = SchemaSpec(
    id="financial-flow/1",
    title="Financial flow",
    model=FinancialFlow,
    natural_key_fields=("flow_id",),
    derivations=(
        Derivation(
            claim="sender_account_ref",
            source="sender_account",
            treatment="pseudonymise",
            compute=g.account_identifier,
            claim_type=g.PSEUDONYM_TYPE,
            description="Pseudonym of the sender's account.",
        ),
        Derivation(
            claim="receiver_account_ref",
            source="receiver_account",
            treatment="pseudonymise",
            compute=g.account_identifier,
            claim_type=g.PSEUDONYM_TYPE,
            description="Pseudonym of the receiver's account.",
        ),
        Derivation(
            claim="sender_ref",
            source="sender_name",
            treatment="pseudonymise",
            compute=g.name_identifier,
            claim_type=g.PSEUDONYM_TYPE,
            description="Pseudonym of the sender's name.",
        ),
        Derivation(
            claim="receiver_ref",
            source="receiver_name",
            treatment="pseudonymise",
            compute=g.name_identifier,
            claim_type=g.PSEUDONYM_TYPE,
            description="Pseudonym of the receiver's name.",
        ),
        Derivation(
            claim="amount_band",
            source="amount",
            treatment="generalise",
            compute=g.magnitude_band,
            claim_type=g.MAGNITUDE_BAND_TYPE,
            description='Order of magnitude of the amount (in its currency), e.g. "1e4-1e5".',
        ),
        g.month_of("date", "the transfer"),
    ),
)
