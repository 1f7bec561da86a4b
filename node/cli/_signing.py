"""The key a command signs with: a PEM file, or a key in a PKCS#11 token (an HSM).

Every command that signs (``manifest sign``, ``authorise``, ``packet issue``) takes
either ``--key FILE`` (PKCS#8 PEM, its passphrase from ``CLEARINGHOUSE_KEY_PASSPHRASE``)
or the options of a key in a token, the same ones ``hsm keygen`` and ``key rotate``
take: ``--pkcs11-module``, ``--pkcs11-token``, ``--pkcs11-key`` and ``--pin-file``. The
PIN is read from ``--pin-file``, or else from ``CLEARINGHOUSE_PKCS11_PIN`` or the file
``CLEARINGHOUSE_PKCS11_PIN_FILE`` names; never from the command line.

:func:`signing_key` opens the key and closes the token afterwards; use it inside
:func:`~clearinghouse.node.cli._common.reporting`, which turns an unusable key (a
:class:`~clearinghouse.protocol.errors.KeyUnusable`) into a message and exit code 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from clearinghouse.node.cli._common import fail, validation_problems
from clearinghouse.node.errors import NodeError
from clearinghouse.node.keyfiles import PASSPHRASE_ENV, passphrase_from_env, read_private_key
from clearinghouse.node.settings import Pkcs11Settings
from clearinghouse.node.signers import PIN_ENV, Pkcs11Token
from clearinghouse.protocol.errors import KeyUnusable
from clearinghouse.protocol.keys import Signer

__all__ = [
    "KeyOption",
    "ModuleOption",
    "NewKeyOption",
    "PinFileOption",
    "TokenKeyOption",
    "TokenOption",
    "required_token_settings",
    "signing_key",
    "token_settings",
]

KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key", help="The private key, a PEM file (or give the --pkcs11-* options instead)."
    ),
]
ModuleOption = Annotated[
    Path | None,
    typer.Option(
        "--pkcs11-module",
        metavar="LIBRARY",
        help="The PKCS#11 library of the token holding the key, e.g. "
        "/usr/lib/softhsm/libsofthsm2.so.",
    ),
]
TokenOption = Annotated[
    str | None, typer.Option("--pkcs11-token", metavar="LABEL", help="The token's label.")
]
TokenKeyOption = Annotated[
    str | None,
    typer.Option("--pkcs11-key", metavar="LABEL", help="The key's label in the token."),
]
#: The label of a key to be made in the token (``hsm keygen``, ``init``).
NewKeyOption = Annotated[
    str | None,
    typer.Option(
        "--pkcs11-key", metavar="LABEL", help="The new key's label (default: the participant)."
    ),
]
PinFileOption = Annotated[
    Path | None,
    typer.Option(
        "--pin-file",
        help=f"A file holding the token's user PIN (refused if every local account may read "
        f"it); else ${PIN_ENV} or the file ${PIN_ENV}_FILE names.",
    ),
]


def token_settings(
    module: Path | None, token: str | None, label: str | None, pin_file: Path | None
) -> Pkcs11Settings | None:
    """The key in a token that the ``--pkcs11-*`` options name; None if none is given.

    Ends the command (exit 2) if only some of the three are given, or one is malformed.
    """
    given = {"--pkcs11-module": module, "--pkcs11-token": token, "--pkcs11-key": label}
    if all(value is None for value in given.values()) and pin_file is None:
        return None
    if module is None or token is None or label is None:
        missing = ", ".join(name for name, value in given.items() if value is None)
        fail(
            "a key in a PKCS#11 token needs --pkcs11-module, --pkcs11-token and "
            f"--pkcs11-key; missing: {missing}"
        )
    try:
        return Pkcs11Settings(module=module, token_label=token, key_label=label, pin_file=pin_file)
    except ValidationError as exc:
        fail(f"--pkcs11-*: {validation_problems(exc)}")


def required_token_settings(
    module: Path | None, token: str | None, label: str | None, pin_file: Path | None
) -> Pkcs11Settings:
    """:func:`token_settings` for a command that works on a token only: ends the command
    (exit 2) when the options are missing too."""
    in_token = token_settings(module, token, label, pin_file)
    if in_token is None:
        fail("give --pkcs11-module, --pkcs11-token and --pkcs11-key")
    return in_token


@contextmanager
def signing_key(
    key: Path | None,
    module: Path | None,
    token: str | None,
    label: str | None,
    pin_file: Path | None,
) -> Iterator[Signer]:
    """The key the options name: ``--key``'s file, or the token's key (the token is closed
    when the block ends).

    Ends the command (exit 2) unless exactly one of the two is given; raises
    :class:`KeyUnusable` if the key cannot be read or opened, or the token fails to sign
    inside the block.
    """
    in_token = token_settings(module, token, label, pin_file)
    if key is not None and in_token is not None:
        fail("give --key or the --pkcs11-* options, not both")
    if in_token is None:
        if key is None:
            fail(
                "give the private key: --key FILE, or --pkcs11-module, --pkcs11-token and "
                "--pkcs11-key for a key in a PKCS#11 token"
            )
        yield read_private_key(key, passphrase_from_env(PASSPHRASE_ENV))
        return
    with Pkcs11Token.from_settings(in_token) as opened:
        signer = opened.key(in_token.key_label)
        try:
            yield signer
        except NodeError as exc:  # the token could not sign (ServiceUnavailable)
            raise KeyUnusable(exc.detail) from exc
