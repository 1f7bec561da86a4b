"""Where a node's private key may live besides a PEM file: a PKCS#11 token (an HSM).

A PEM key (:mod:`node.keyfiles`) is a ``cryptography`` ``Ed25519PrivateKey``, itself a
:class:`~clearinghouse.protocol.keys.Signer`; :mod:`.pkcs11` adds keys that sign
inside a token and never leave it.
"""

from clearinghouse.node.signers.pkcs11 import PIN_ENV, Pkcs11Key, Pkcs11Token, read_pin

__all__ = ["PIN_ENV", "Pkcs11Key", "Pkcs11Token", "read_pin"]
