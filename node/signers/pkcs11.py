"""Ed25519 keys in a PKCS#11 token (an HSM): signed inside it, by a key that never leaves it.

PKCS#11 v3.0 (OASIS), "EdDSA": a key pair of type ``CKK_EC_EDWARDS`` on edwards25519
(``CKA_EC_PARAMS`` the DER of the OID 1.3.101.112, RFC 8410, or of the printable
string ``edwards25519``) made by ``CKM_EC_EDWARDS_KEY_PAIR_GEN`` signs with
``CKM_EDDSA`` without parameters: pure Ed25519 (RFC 8032), the signatures a PEM key
makes. The public key is read from the public object's ``CKA_EC_POINT`` (a DER
OCTET STRING of the 32-byte key, or the raw 32 bytes some tokens answer).

A key pair is named by the token's label and the key's label (``CKA_LABEL``, the same
on the private and the public object); :meth:`Pkcs11Token.generate_key` makes one
sensitive and non-extractable. A private key the token would let out (extractable,
or not sensitive) is refused, so a node never signs with a key that could be copied.
Each :class:`Pkcs11Key` is a :class:`~clearinghouse.protocol.keys.Signer`. Finding,
checking and making the token's objects is :mod:`._pkcs11_objects`; this module keeps
the session.

The user PIN comes from a file that others may not read, or from the environment
variable :data:`PIN_ENV` (or the file ``CLEARINGHOUSE_PKCS11_PIN_FILE`` names:
:func:`read_pin`); never from an argument or a setting.

Concurrency. A PKCS#11 session serves one call at a time, and the node signs from
its event loop and its worker threads: each :class:`Pkcs11Token` keeps one logged-in
session and uses it under a lock (an Ed25519 signature is short work; the lock is
held for nothing else). When the token reports the session gone (closed, logged out,
the device removed or restarted), the token is looked up again, a new session
opened and the signature tried once more. A module is loaded and initialised once
per process (``C_Initialize`` is per application) and shared by every token object.

Errors: :class:`~clearinghouse.protocol.errors.KeyUnusable` while opening a token or
finding a key (naming the module, token, PIN or key at fault); once the key was
found, a signature that cannot be made is a
:class:`~clearinghouse.node.errors.ServiceUnavailable` (503: the node cannot sign
now, it is not the request's fault).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final, TypeVar

import pkcs11
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pkcs11 import Attribute, Mechanism, ObjectClass
from pkcs11 import exceptions as p11

from clearinghouse.node.errors import ServiceUnavailable
from clearinghouse.node.keyfiles import read_secret_file, secret_from_env
from clearinghouse.node.settings import Pkcs11Settings
from clearinghouse.node.signers._pkcs11_objects import (
    attribute,
    find_private,
    find_public,
    generate,
    raw,
)
from clearinghouse.protocol.errors import KeyUnusable

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Module

__all__ = ["PIN_ENV", "Pkcs11Key", "Pkcs11Token", "read_pin"]

#: The environment variable the PIN is read from when no PIN file is given.
PIN_ENV: Final = "CLEARINGHOUSE_PKCS11_PIN"

#: What a token answers when the session it was given is no more: open a new one.
_SESSION_LOST: Final = (
    p11.SessionHandleInvalid,
    p11.SessionClosed,
    p11.UserNotLoggedIn,
    p11.DeviceRemoved,
    p11.DeviceError,
    p11.TokenNotPresent,
    p11.TokenNotRecognised,
    p11.ObjectHandleInvalid,
    p11.KeyHandleInvalid,
)
_WRONG_PIN: Final = (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange)

T = TypeVar("T")

#: python-pkcs11 keeps each loaded module (by path) for the process; this lock keeps two
#: threads from loading the same one at once.
_loading = threading.Lock()


def read_pin(pin_file: Path | None, variable: str = PIN_ENV) -> str:
    """The user PIN: ``pin_file``'s text, or else the environment ``variable`` (or the
    file its ``_FILE`` twin names, :func:`~clearinghouse.node.keyfiles.secret_from_env`).

    :raises KeyUnusable: a file is readable by every local account, cannot be read or
        is empty, or there is no file and the variable is unset.
    """
    pin = read_secret_file(pin_file, "PIN file") if pin_file else secret_from_env(variable)
    if not pin:
        raise KeyUnusable(
            f"no PIN for the PKCS#11 token: give a PIN file, or set {variable} or {variable}_FILE"
        )
    return pin


def _module(path: Path) -> Module:
    """The PKCS#11 module at ``path``, loaded and initialised once in this process."""
    with _loading:
        try:
            return pkcs11.lib(str(path))
        except p11.PKCS11Error as exc:
            raise KeyUnusable(f"PKCS#11 module {path} cannot be loaded: {exc}") from exc


class Pkcs11Key:
    """An Ed25519 private key in a token, as a :class:`~clearinghouse.protocol.keys.Signer`:
    :meth:`sign` asks the token; :meth:`public_key` answers the key read when it was found."""

    def __init__(self, token: Pkcs11Token, label: str, public: Ed25519PublicKey) -> None:
        self._token = token
        self.label = label
        self._public = public

    def sign(self, data: bytes) -> bytes:
        """The Ed25519 signature of ``data``, made in the token and checked against the
        public key before it is returned.

        :raises ServiceUnavailable: the token cannot sign now (also after a new session),
            or made a signature that does not verify.
        """
        signature = self._token.sign(self, data)
        try:
            self._public.verify(signature, data)
        except InvalidSignature as exc:
            raise ServiceUnavailable(
                f"{self}: the token made a signature that does not verify with the key's "
                "public half; refusing to use it"
            ) from exc
        return signature

    def public_key(self) -> Ed25519PublicKey:
        return self._public

    def __str__(self) -> str:
        return f"key {self.label!r} in PKCS#11 token {self._token.label!r}"

    def __repr__(self) -> str:
        return f"<Pkcs11Key {self.label!r} in token {self._token.label!r}>"


class Pkcs11Token:
    """One token of a PKCS#11 module, logged in as its user (see the module doc).

    Opening checks the module, the token and the PIN at once. Use it in ``with``, or
    call :meth:`close`; ``writable`` opens read-write sessions (to make keys).

    :raises KeyUnusable: the module cannot be loaded, no token (or more than one) has
        the label, the PIN is wrong or locked, or no session can be opened.
    """

    def __init__(self, module: Path, label: str, pin: str, *, writable: bool = False) -> None:
        self.module = module
        self.label = label
        self._pin = pin
        self._writable = writable
        self._lib = _module(module)
        self._lock = threading.Lock()
        self._session: pkcs11.Session | None = None
        #: the private key objects found in the session, by label and public key
        self._private: dict[tuple[str, bytes], pkcs11.SignMixin] = {}
        with self._lock:
            self._open()

    @classmethod
    def from_settings(cls, settings: Pkcs11Settings, *, writable: bool = False) -> Pkcs11Token:
        """The token of ``settings``, its PIN read by :func:`read_pin`."""
        return cls(
            settings.module, settings.token_label, read_pin(settings.pin_file), writable=writable
        )

    def __enter__(self) -> Pkcs11Token:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the session (logging this process out of the token if it logged in)."""
        with self._lock:
            self._drop()

    # -- keys ------------------------------------------------------------------------------

    def key(self, label: str) -> Pkcs11Key:
        """The Ed25519 key pair labelled ``label``.

        :raises KeyUnusable: no private key has the label, or several do; it is not an
            Ed25519 key, may not sign, or could leave the token (extractable or not
            sensitive); its public key is missing or not 32 bytes; the token fails.
        """

        def find(session: pkcs11.Session) -> Ed25519PublicKey:
            private = find_private(session, self.label, label)
            public = find_public(session, self.label, label)
            self._private[label, raw(public)] = private
            return public

        return Pkcs11Key(self, label, self._call(find))

    def labels(self) -> list[str]:
        """The labels of the private keys in the token, sorted; raises :class:`KeyUnusable`."""

        def read(session: pkcs11.Session) -> list[str]:
            objects = session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})
            return sorted({str(attribute(obj, Attribute.LABEL)) for obj in objects})

        return self._call(read)

    def generate_key(self, label: str) -> Pkcs11Key:
        """Make an Ed25519 key pair labelled ``label`` in the token: private, sensitive,
        never extractable, for signing only. Needs a ``writable`` token.

        :raises KeyUnusable: a key with this label exists already, the token cannot make
            Ed25519 keys, or refuses to store them.
        """
        self._call(lambda session: generate(session, self.label, label))
        return self.key(label)

    def sign(self, key: Pkcs11Key, data: bytes) -> bytes:
        """``key``'s CKM_EDDSA signature of ``data`` (see :meth:`Pkcs11Key.sign`).

        :raises ServiceUnavailable: the token cannot sign, also in a new session.
        """

        def sign(session: pkcs11.Session) -> bytes:
            found = (key.label, raw(key.public_key()))
            private = self._private.get(found)
            if private is None:  # a new session: find the key again, and check it is the same
                private = find_private(session, self.label, key.label)
                if raw(find_public(session, self.label, key.label)) != found[1]:
                    raise KeyUnusable(f"{key} was replaced by another key since it was loaded")
                self._private[found] = private
            return bytes(private.sign(data, mechanism=Mechanism.EDDSA))

        try:
            return self._call(sign)
        except KeyUnusable as exc:
            raise ServiceUnavailable(f"{key} cannot sign: {exc.message}") from exc

    def _call(self, action: Callable[[pkcs11.Session], T]) -> T:
        """``action`` on the session, under the lock; once more in a new session if the
        token lost this one. Raises :class:`KeyUnusable` for any other failure."""
        with self._lock:
            for attempt in (1, 2):
                session = self._open()
                try:
                    return action(session)
                except _SESSION_LOST as exc:
                    self._drop()
                    if attempt == 2:
                        raise KeyUnusable(
                            f"PKCS#11 token {self.label!r} lost the session twice in a row "
                            f"({type(exc).__name__})"
                        ) from exc
                except p11.PKCS11Error as exc:
                    raise KeyUnusable(
                        f"PKCS#11 token {self.label!r} answered {type(exc).__name__}"
                    ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    # -- sessions and lookups (called with the lock held) ------------------------------------

    def _open(self) -> pkcs11.Session:
        """The session, opened (and logged in) if there is none."""
        if self._session is not None:
            return self._session
        token = self._token()
        try:
            try:
                session = token.open(rw=self._writable, user_pin=self._pin)
            except p11.UserAlreadyLoggedIn:
                # Login is per application (PKCS#11 v3.0 section 5.6): another token
                # object of this process logged in already, so this session is in too.
                session = token.open(rw=self._writable)
        except _WRONG_PIN as exc:
            raise KeyUnusable(
                f"the PIN for PKCS#11 token {self.label!r} is wrong ({type(exc).__name__})"
            ) from exc
        except p11.PinLocked as exc:
            raise KeyUnusable(
                f"the user PIN of PKCS#11 token {self.label!r} is locked after too many wrong "
                "PINs; the token's security officer must unlock it"
            ) from exc
        except (p11.PinExpired, p11.UserPinNotInitialized) as exc:
            raise KeyUnusable(
                f"PKCS#11 token {self.label!r} has no usable user PIN ({type(exc).__name__}); "
                "its security officer must set one"
            ) from exc
        except p11.PKCS11Error as exc:
            raise KeyUnusable(
                f"cannot open a session on PKCS#11 token {self.label!r}: {type(exc).__name__}"
            ) from exc
        self._session = session
        self._private.clear()
        return session

    def _drop(self) -> None:
        """Forget the session; close it if the token still knows it."""
        session, self._session = self._session, None
        self._private.clear()
        if session is not None:
            try:
                session.close()
            except p11.PKCS11Error:
                pass  # already gone with the device or the login: nothing to close

    def _token(self) -> pkcs11.Token:
        try:
            return self._lib.get_token(token_label=self.label)
        except p11.NoSuchToken as exc:
            labels = ", ".join(repr(t.label) for t in self._lib.get_tokens() if t.label) or "none"
            raise KeyUnusable(
                f"PKCS#11 module {self.module} has no token labelled {self.label!r} "
                f"(its tokens: {labels})"
            ) from exc
        except p11.MultipleTokensReturned as exc:
            raise KeyUnusable(
                f"PKCS#11 module {self.module} has several tokens labelled {self.label!r}; "
                "give each token a label of its own"
            ) from exc
        except p11.PKCS11Error as exc:
            raise KeyUnusable(
                f"PKCS#11 module {self.module} cannot list its tokens: {type(exc).__name__}"
            ) from exc
