"""A SoftHSM2 token for tests: made fresh in a temporary folder, its PIN in a 0600 file.

SoftHSM2 (Debian's ``softhsm2``, installed by ``make test``) keeps its tokens in the
folder its configuration file names, and reads that file (``SOFTHSM2_CONF``) when the
PKCS#11 module is initialised. :func:`softhsm_token` writes a configuration whose
token folder is in the test's temporary folder, makes a token there with
``softhsm2-util --init-token``, points ``SOFTHSM2_CONF`` at it, and initialises the
module in this process again (``C_Finalize``, ``C_Initialize``): a module a test
before had loaded would otherwise still list the tokens of that test's folder. Node
processes get the variable through :attr:`SoftHsm.env`.

Everything is left behind in the temporary folder, which pytest removes; the token
is files, no process runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pytest

from clearinghouse.node.keyfiles import write_secret
from clearinghouse.node.settings import Pkcs11Settings
from clearinghouse.node.signers import Pkcs11Token
from clearinghouse.protocol.keys import public_jwk

__all__ = ["MODULE", "PIN", "SoftHsm", "softhsm_token"]

#: Debian's SoftHSM2 PKCS#11 module.
MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN, SO_PIN = "4817-2290", "9931-0472"


@dataclass(frozen=True)
class SoftHsm:
    """One fresh token: its label, the file holding its user PIN, its configuration."""

    token_label: str
    pin_file: Path
    conf: Path

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to find the token."""
        return {"SOFTHSM2_CONF": str(self.conf)}

    def settings(self, key_label: str) -> Pkcs11Settings:
        """The ``[pkcs11]`` settings of the key labelled ``key_label`` in this token."""
        return Pkcs11Settings(
            module=MODULE,
            token_label=self.token_label,
            key_label=key_label,
            pin_file=self.pin_file,
        )

    def open(self, *, writable: bool = False) -> Pkcs11Token:
        """The token, opened in this process (logged in with its PIN)."""
        return Pkcs11Token(MODULE, self.token_label, PIN, writable=writable)

    def make_key(self, label: str) -> dict[str, str]:
        """Make an Ed25519 key labelled ``label`` in the token; return its public JWK."""
        with self.open(writable=True) as token:
            return public_jwk(token.generate_key(label))


@contextmanager
def softhsm_token(folder: Path, label: str = "clearinghouse-test") -> Iterator[SoftHsm]:
    """A fresh token labelled ``label`` in ``folder``, ``SOFTHSM2_CONF`` naming it in this
    process (and the module initialised again) until the block ends."""
    if shutil.which("softhsm2-util") is None or not MODULE.exists():
        pytest.fail("SoftHSM2 is not installed: run 'make softhsm' (apt-get install softhsm2)")
    tokens = folder / "tokens"
    tokens.mkdir(parents=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            PIN,
            "--so-pin",
            SO_PIN,
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    pin_file = folder / "pin"
    write_secret(pin_file, f"{PIN}\n".encode())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        pkcs11.lib(str(MODULE)).reinitialize()  # read the new configuration
        yield SoftHsm(label, pin_file, conf)
