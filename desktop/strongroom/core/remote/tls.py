"""TLS to a configured server, trusting only what the officer configured.

With the firm's CA, OpenSSL checks the chain, the dates and the host name, against that CA
alone (the system store is never loaded). With a pinned certificate, the chain is not
checked, but the certificate's SHA-256 must be the pinned one and its dates must hold;
both are checked right after the handshake, before a single byte of the request is sent.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone

from strongroom.core.errors import StrongroomError
from strongroom.core.remote.servers import Server

# OpenSSL's X509_V_ERR_* codes that deserve their own words.
_EXPIRED, _NOT_YET_VALID = 10, 9
_UNTRUSTED = {2, 18, 19, 20, 21}
_NAME_MISMATCH = {62, 64}  # the host name, or the IP address, is not the certificate's


class TrustError(StrongroomError):
    """The server's certificate is not the one this workstation trusts; says why, in words."""


@dataclass(frozen=True)
class Certificate:
    """What the server showed: for `server test`, the audit log and the pin check."""

    subject: str
    issuer: str
    fingerprint: str  # SHA-256 of the DER bytes, hex
    not_before: datetime
    not_after: datetime

    @classmethod
    def from_der(cls, der: bytes) -> "Certificate":
        from cryptography import x509

        certificate = x509.load_der_x509_certificate(der)
        return cls(certificate.subject.rfc4514_string(), certificate.issuer.rfc4514_string(),
                   hashlib.sha256(der).hexdigest(), certificate.not_valid_before_utc,
                   certificate.not_valid_after_utc)


def client_context(server: Server) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # loads no CA of its own
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if server.ca_pem:
        context.load_verify_locations(cadata=server.ca_pem)
    else:  # the pin, checked in `check_certificate`, is the whole of the trust
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def check_certificate(server: Server, der: bytes | None,
                      now: datetime | None = None) -> Certificate:
    """The certificate the server showed, refused unless it is the pinned one and in date
    (the CA case was checked by OpenSSL during the handshake)."""
    if not der:
        raise TrustError(f"The server {server.name} ({server.url}) showed no certificate.")
    certificate = Certificate.from_der(der)
    if server.pin and certificate.fingerprint != server.pin:
        raise TrustError(
            f"The server at {server.url} showed a certificate that is not the one pinned for "
            f"{server.name}: its SHA-256 is {certificate.fingerprint}, the pinned one is "
            f"{server.pin}. Nothing was sent. Someone may be impersonating the server, or it "
            "has a new certificate: ask your administrator before changing the pin.")
    now = now or datetime.now(timezone.utc)
    if now > certificate.not_after:
        raise TrustError(f"The certificate of {server.name} ({server.url}) expired on "
                         f"{certificate.not_after:%Y-%m-%d %H:%M} UTC. Nothing was sent. The "
                         "server's administrator must renew it.")
    if now < certificate.not_before:
        raise TrustError(f"The certificate of {server.name} ({server.url}) is not valid before "
                         f"{certificate.not_before:%Y-%m-%d %H:%M} UTC. Check this computer's "
                         "clock, or ask the server's administrator.")
    return certificate


def handshake_failure(server: Server, error: ssl.SSLError) -> str:
    """What a failed TLS handshake means, in words."""
    code = getattr(error, "verify_code", None)
    if code == _EXPIRED:
        return (f"The certificate of {server.name} ({server.url}) has expired. Nothing was sent. "
                "The server's administrator must renew it.")
    if code == _NOT_YET_VALID:
        return (f"The certificate of {server.name} ({server.url}) is not valid yet. Check this "
                "computer's clock, or ask the server's administrator.")
    if code in _UNTRUSTED:
        return (f"The server at {server.url} showed a certificate that the firm's CA configured "
                f"for {server.name} did not sign. Nothing was sent. Someone may be "
                "impersonating the server: tell your administrator.")
    if code in _NAME_MISMATCH:
        return (f"The certificate of the server at {server.url} was issued for another name "
                "than the one configured. Nothing was sent. Ask your administrator which "
                "address the certificate names.")
    reason = getattr(error, "verify_message", None) or getattr(error, "reason", None) or error
    return (f"A secure connection to {server.name} ({server.url}) could not be set up "
            f"({reason}). Nothing was sent. Check that the address is the server's HTTPS port.")
