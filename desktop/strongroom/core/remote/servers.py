"""The firm's inference servers this workstation may use, configured by name, never typed.

The list lives in the secret store, like the trusted officer keys: it says where prompts
may go, so a local user who can write the app's folders cannot add a server of their own.
Each server is an HTTPS address and how its certificate is trusted: the firm's CA (its PEM
is copied into the record, so replacing the file later changes nothing) or a pinned
certificate (SHA-256 of its DER bytes). The system's CA store is never used. A server's API
key is a secret of its own, never shown back.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from strongroom.core.errors import StrongroomError
from strongroom.core.secrets import SecretStore

SERVERS_RECORD = "inference-servers"
_API_KEY_PREFIX = "inference-server-key-"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
_API_KEY = re.compile(r"[!-~]{0,4096}")
_PIN = re.compile(r"[0-9a-f]{64}")
MAX_CA_BYTES = 1024 * 1024
DEFAULT_TIMEOUT_S = 120.0


class ServerError(StrongroomError):
    """A server cannot be configured or used as asked; the message says why, for people."""


@dataclass(frozen=True)
class Server:
    name: str
    url: str  # https://host[:port][/path], as configured
    ca_pem: str | None  # the firm's CA certificate(s), or None with a pin
    pin: str | None  # SHA-256 of the server certificate's DER bytes (hex), or None with a CA
    timeout_s: float = DEFAULT_TIMEOUT_S  # the longest wait for the server to say anything
    added: str = ""
    added_by: str = ""

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 443

    @property
    def api_base(self) -> str:
        """The path the OpenAI routes hang from: the URL's path, ending in /v1."""
        path = urlsplit(self.url).path.rstrip("/")
        return path if path.endswith("/v1") else f"{path}/v1"

    @property
    def trust(self) -> str:
        """How its certificate is trusted, in words."""
        if self.pin:
            return f"pinned certificate sha256 {self.pin}"
        return "certificates signed by the firm's CA (" + ca_subjects(self.ca_pem or "") + ")"

    def audit_fields(self) -> dict:
        return {"name": self.name, "url": self.url,
                "trust": "pin" if self.pin else "ca", "pin": self.pin}


def normalise_url(url: str) -> str:
    """``url`` checked: HTTPS, a host, no user name, query or fragment."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise ServerError(f"{url!r} is not a server address: {error}.") from None
    if parts.scheme.lower() != "https":
        raise ServerError(f"{url!r}: only HTTPS addresses are accepted (https://host:port), so "
                          "that prompts and answers are encrypted on the network.")
    if not parts.hostname:
        raise ServerError(f"{url!r} names no host: write it as https://host:port.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ServerError(f"{url!r}: give the address alone, without a user name, password, "
                          "query or fragment (the API key is given separately).")
    if port == 0:
        raise ServerError(f"{url!r}: port 0 cannot be connected to.")
    return url.strip().rstrip("/")


def normalise_pin(pin: str) -> str:
    """A certificate fingerprint as SHA-256 hex, whatever separators it was written with."""
    cleaned = re.sub(r"[\s:]", "", pin).lower().removeprefix("sha256")
    if not _PIN.fullmatch(cleaned):
        raise ServerError(f"{pin!r} is not a SHA-256 certificate fingerprint: it must be 64 "
                          "hexadecimal digits (colons and spaces may separate them). "
                          "`strongroom serve` prints it when it starts.")
    return cleaned


def read_ca_file(path: Path) -> str:
    """The PEM certificates in ``path``, checked to be certificates."""
    try:
        data = Path(path).read_bytes()[:MAX_CA_BYTES + 1]
    except OSError as error:
        raise ServerError(f"The CA file {path} cannot be read: {error.strerror}.") from None
    if len(data) > MAX_CA_BYTES:
        raise ServerError(f"The CA file {path} is larger than 1 MB; it should hold the firm's "
                          "CA certificate in PEM form.")
    try:
        text = data.decode("ascii")
        ca_subjects(text)
    except (UnicodeDecodeError, ValueError):
        raise ServerError(f"The CA file {path} holds no PEM certificate (-----BEGIN "
                          "CERTIFICATE-----). Ask for the firm's CA certificate in PEM form.") from None
    return text


def ca_subjects(pem: str) -> str:
    """The subjects of the certificates in ``pem``; raises ValueError if there are none."""
    from cryptography import x509

    certificates = x509.load_pem_x509_certificates(pem.encode("ascii"))
    return "; ".join(c.subject.rfc4514_string() or "no subject" for c in certificates)


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ServerError(f"{name!r} cannot name a server: use up to 40 letters, digits, dots, "
                          "dashes or underscores, starting with a letter or digit.")
    return name


class ServerList:
    """The configured servers, in the secret store; changes are audited by the caller."""

    def __init__(self, secrets: SecretStore):
        self.secrets = secrets

    def servers(self) -> list[Server]:
        raw = self.secrets.get(SERVERS_RECORD)
        if not raw:
            return []
        try:
            servers = [Server(**entry) for entry in json.loads(raw)]
            for server in servers:  # as strict as adding: a record edited by hand is not trusted
                check_name(server.name)
                if normalise_url(server.url) != server.url or (server.ca_pem is None) == (server.pin is None):
                    raise ValueError(f"the entry {server.name!r} is not one Strongroom wrote")
                if server.pin is not None:
                    normalise_pin(server.pin)
            return servers
        except (ValueError, TypeError, ServerError) as error:
            raise ServerError(f"The list of inference servers in {self.secrets.description} "
                              f"cannot be read ({error}). No server is used until a security "
                              "officer removes and adds the servers again.") from None

    def get(self, name: str) -> Server:
        found = next((s for s in self.servers() if s.name == name), None)
        if found is None:
            known = ", ".join(s.name for s in self.servers()) or "none is configured"
            raise ServerError(f"There is no inference server called {name!r} ({known}). "
                              "`strongroom server add` or Settings → Servers adds one.")
        return found

    def add(self, name: str, url: str, *, ca_pem: str | None = None, pin: str | None = None,
            api_key: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
            added_by: str = "") -> Server:
        check_name(name)
        if (ca_pem is None) == (pin is None):
            raise ServerError("Say how the server's certificate is trusted: the firm's CA file "
                              "(--ca) or the certificate's SHA-256 fingerprint (--pin), one of "
                              "the two.")
        if any(s.name == name for s in self.servers()):
            raise ServerError(f"A server called {name!r} is already configured; remove it first "
                              "to change it.")
        if not 1 <= timeout_s <= 3600:
            raise ServerError("The timeout must be between 1 and 3,600 seconds.")
        server = Server(name, normalise_url(url), ca_pem,
                        normalise_pin(pin) if pin is not None else None, float(timeout_s),
                        datetime.now(timezone.utc).isoformat(timespec="seconds"), added_by)
        if api_key is not None and not _API_KEY.fullmatch(api_key):
            raise ServerError("The API key must be one line of printable characters without "
                              "spaces, at most 4,096 of them.")
        if api_key:
            self.secrets.set(_API_KEY_PREFIX + name, api_key)
        else:
            self.secrets.delete(_API_KEY_PREFIX + name)
        self._save([*self.servers(), server])
        return server

    def remove(self, name: str) -> Server:
        server = self.get(name)
        self._save([s for s in self.servers() if s.name != name])
        self.secrets.delete(_API_KEY_PREFIX + name)
        return server

    def api_key(self, server: Server) -> str | None:
        return self.secrets.get(_API_KEY_PREFIX + server.name)

    def _save(self, servers: list[Server]) -> None:
        self.secrets.set(SERVERS_RECORD, json.dumps([asdict(s) for s in servers], indent=1))
