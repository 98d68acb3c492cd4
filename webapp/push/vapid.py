"""The server's VAPID key pair: created once on purpose, loaded everywhere else, never guessed.

Every browser subscription is bound to the public key the page gave ``pushManager.subscribe()``
(the ``applicationServerKey``). A new key silently generated because a file went missing would
make every push service reject our sends (403) until each user subscribed again, so loading never
generates: a missing key is an error that names the command which creates one.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from webapp import secretfile

ENV_PRIVATE_KEY = "HOMEWARD_VAPID_PRIVATE_KEY"
ENV_SUBJECT = "HOMEWARD_VAPID_SUBJECT"
KEY_FILENAME = "vapid-private.pem"
DEFAULT_SUBJECT = "mailto:homeward@localhost"
GENERATE_COMMAND = "homeward vapid-keys"

_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


class VapidKeyError(Exception):
    """No usable VAPID key; the message says what to do (and never contains key material)."""


@dataclass(frozen=True)
class VapidKeys:
    private_key: ec.EllipticCurvePrivateKey
    # The uncompressed P-256 point, base64url without padding: what the page passes to
    # pushManager.subscribe({applicationServerKey}).
    public_key_b64url: str
    # Push services contact this address about abuse; it is in every JWT we sign.
    subject: str

    @classmethod
    def from_private_key(
        cls, private_key: ec.EllipticCurvePrivateKey, subject: str = DEFAULT_SUBJECT
    ) -> VapidKeys:
        _check_curve(private_key, "the key")
        return cls(
            private_key=private_key,
            public_key_b64url=public_key_b64url(private_key.public_key()),
            subject=_check_subject(subject),
        )

    def __repr__(self) -> str:
        # Keep the private key out of logs and tracebacks.
        return f"VapidKeys(public_key_b64url={self.public_key_b64url!r}, subject={self.subject!r})"


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url: the lenient stdlib decoder would skip stray characters silently."""
    if not isinstance(text, str) or not _B64URL.match(text):
        raise ValueError("not base64url")
    text = text.rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_b64url(public_key: ec.EllipticCurvePublicKey) -> str:
    return b64url_encode(
        public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


def key_path(instance_path: str | os.PathLike) -> Path:
    return Path(instance_path) / KEY_FILENAME


def generate_keys(instance_path: str | os.PathLike) -> Path:
    """Create <instance>/vapid-private.pem (P-256, PKCS8 PEM, mode 0o600) and return its path."""
    directory = Path(instance_path)
    # 0o700 only applies when we create the folder; an existing one keeps the operator's choice.
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = key_path(directory)
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        # Never replaces an existing key, and is never seen half-written.
        secretfile.publish_exclusive(path, pem)
    except FileExistsError:
        raise VapidKeyError(
            f"{path} already exists; refusing to replace it: every subscription would break"
        ) from None
    return path


def load_keys(
    environ: Mapping[str, str],
    instance_path: str | os.PathLike | None,
    *,
    required: bool,
) -> VapidKeys | None:
    """The VAPID keys from HOMEWARD_VAPID_PRIVATE_KEY, else from <instance>/vapid-private.pem.

    The variable holds PEM text or the base64url raw 32-byte private scalar (the form the
    py-vapid and web-push tools print). It wins over the file, so a deployment configured through
    the environment is never overridden by a stray file. Nothing is ever generated here.
    """
    subject = _check_subject(environ.get(ENV_SUBJECT) or DEFAULT_SUBJECT)
    text = (environ.get(ENV_PRIVATE_KEY) or "").strip()
    if text:
        return VapidKeys.from_private_key(_parse_env_key(text), subject)
    if instance_path is not None:
        path = key_path(instance_path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            pass
        except OSError as exc:
            # Present but unreadable (permissions, a directory): say so rather than "missing".
            raise VapidKeyError(f"cannot read {path}: {exc.strerror or exc}") from None
        else:
            return VapidKeys.from_private_key(_parse_pem(data, str(path)), subject)
    if not required:
        return None
    where = f" or create {key_path(instance_path)}" if instance_path is not None else ""
    raise VapidKeyError(
        f"No VAPID key: set {ENV_PRIVATE_KEY}{where} by running `{GENERATE_COMMAND}` once. It is "
        "never generated automatically, because a new key breaks every existing push subscription."
    )


def _parse_env_key(text: str) -> ec.EllipticCurvePrivateKey:
    if "-----BEGIN" in text:
        # Many .env loaders and platform dashboards keep a multi-line value as literal "\n".
        return _parse_pem(text.replace("\\n", "\n").encode("ascii", "replace"), ENV_PRIVATE_KEY)
    try:
        raw = b64url_decode(text)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise VapidKeyError(
            f"{ENV_PRIVATE_KEY} is neither a PEM EC private key nor a base64url 32-byte P-256 "
            "private scalar"
        )
    try:
        return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except ValueError:
        # Zero or not below the curve order.
        raise VapidKeyError(f"{ENV_PRIVATE_KEY} is not a valid P-256 private key") from None


def _parse_pem(data: bytes, source: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # TypeError: an encrypted PEM; the server has nobody to ask for a passphrase.
        raise VapidKeyError(
            f"{source} does not hold an unencrypted PEM private key; restore the original key "
            f"rather than generating a new one (a new key breaks every subscription)"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise VapidKeyError(f"{source} is not an EC private key; VAPID needs P-256")
    _check_curve(key, source)
    return key


def _check_curve(key: ec.EllipticCurvePrivateKey, source: str) -> None:
    if not isinstance(key.curve, ec.SECP256R1):
        raise VapidKeyError(f"{source} is on curve {key.curve.name}; VAPID needs P-256")


def _check_subject(subject: str) -> str:
    # Push services (and py-vapid, at signing time) refuse anything else; fail at start-up instead
    # of on the first reminder.
    subject = subject.strip()
    if (subject.startswith("mailto:") and "@" in subject) or subject.startswith("https://"):
        return subject
    raise VapidKeyError(f"{ENV_SUBJECT} must be a mailto: address or an https:// URL")
