"""`strongroom serve`: llama.cpp's OpenAI-compatible server on a verified model, with TLS
and an API key, for the workstations of the isolated network.

The parent (this process) checks everything before anything listens: the model is the
store's active version, its bytes hash again to the store's record (read through one open
file, which the server then loads by descriptor, so a file swapped in afterwards is never
served), the certificate and key belong together, and the address can be bound. It binds
the listening socket itself and hands it, with the model's descriptor, to a child process
(`CHILD_COMMAND`) that runs `llama_cpp.server` under uvicorn. The API key reaches the child
on its standard input, never its command line.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from strongroom.core.errors import StrongroomError
from strongroom.core.inference.engine import (
    BackgroundHash,
    EngineError,
    OpenModel,
    changed_since_import,
)
from strongroom.core.inference.identity import ModelIdentity
from strongroom.core.isolated import (
    MINIMAL_ENVIRONMENT,
    NEUTRAL_FOLDER,
    strongroom_command,
)
from strongroom.core.remote.tls import Certificate

CHILD_COMMAND = "_serve-model"
READY = "strongroom-serve-ready"
MIN_API_KEY = 16


class ServeError(StrongroomError):
    """The server cannot start as asked; the message says why, for people."""


@dataclass
class ServePlan:
    """Everything checked, ready to start: see `prepare`."""

    identity: ModelIdentity
    sha256: str
    model_file: OpenModel
    listener: socket.socket
    certificate: Certificate
    cert_file: Path
    key_file: Path
    api_key: str
    context_length: int

    @property
    def address(self) -> str:
        host, port = self.listener.getsockname()[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def audit_fields(self) -> dict:
        return {"model": self.identity.name, "store_version": self.identity.store_version,
                "model_sha256": self.sha256, "listen": self.address,
                "certificate_sha256": self.certificate.fingerprint,
                "context_length": self.context_length}

    def close(self) -> None:
        self.listener.close()
        self.model_file.__exit__(None, None, None)


def parse_listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ServeError(f"{text!r} is not an address to listen on: write HOST:PORT, e.g. "
                         "10.0.0.5:8443 (a port from 1 to 65535).")
    return host, int(port)


def read_api_key(path: Path | None, generated_to: Path) -> tuple[str, Path | None]:
    """The API key from ``path``; without one, a new key written to ``generated_to``
    (readable only by this user). Returns (key, where a new key was written)."""
    if path is None:
        key = secrets.token_urlsafe(32)
        generated_to.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(generated_to, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as out:
            out.write(key + "\n")
        return key, generated_to
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ServeError(f"The API key file {path} cannot be read ({error}).") from None
    if len(key) < MIN_API_KEY or not key.isascii() or any(c.isspace() for c in key):
        raise ServeError(f"The API key in {path} must be one line of at least {MIN_API_KEY} "
                         "printable characters without spaces. Leave --api-key-file out to "
                         "have a strong one made.")
    return key, None


def prepare(identity: ModelIdentity, listen: str, cert_file: Path, key_file: Path,
            api_key: str, context_length: int) -> ServePlan:
    """Check the model, the certificate and the address; raise ServeError in words."""
    if identity.store_version is None or identity.sha256 is None:
        raise ServeError(f"{identity.name} is not a model in the store: only a verified, "
                         "imported model is served.")
    certificate = _check_certificate(cert_file, key_file)
    host, port = parse_listen(listen)
    model_file = OpenModel(identity.path)
    try:
        model_file.__enter__()
    except EngineError as error:
        raise ServeError(str(error)) from None
    try:
        try:  # through the file the server will load (see `OpenModel`)
            sha256 = BackgroundHash(model_file.fd, os.fstat(model_file.fd).st_size,
                                    lambda *_: None).result()
        except EngineError as error:
            raise ServeError(str(error)) from None
        if sha256 != identity.sha256:
            raise ServeError(changed_since_import(identity.path, sha256, identity.sha256, "serve"))
        listener = _bind(host, port)
    except BaseException:
        model_file.__exit__(None, None, None)
        raise
    return ServePlan(identity, sha256, model_file, listener, certificate, Path(cert_file),
                     Path(key_file), api_key, context_length)


def start(plan: ServePlan) -> subprocess.Popen:
    """The server's child process, started on ``plan``; it prints `READY` on its standard
    output once the model is loaded."""
    settings = {"model": f"/proc/self/fd/{plan.model_file.fd}", "alias": plan.identity.name,
                "socket": plan.listener.fileno(), "cert": str(plan.cert_file.resolve()),
                "key": str(plan.key_file.resolve()), "context_length": plan.context_length,
                "embedding": plan.identity.role == "embedding"}
    child = subprocess.Popen(strongroom_command(CHILD_COMMAND, json.dumps(settings)),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=NEUTRAL_FOLDER,
                             env=dict(MINIMAL_ENVIRONMENT),
                             pass_fds=(plan.model_file.fd, plan.listener.fileno()))
    assert child.stdin is not None  # (stdin=PIPE)
    child.stdin.write(plan.api_key.encode("ascii") + b"\n")
    child.stdin.close()
    return child


def _check_certificate(cert_file: Path, key_file: Path) -> Certificate:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert_file, key_file)
    except FileNotFoundError as error:
        raise ServeError(f"{error.filename} does not exist.") from None
    except (ssl.SSLError, OSError) as error:
        raise ServeError(f"The certificate {cert_file} and the key {key_file} cannot be used "
                         f"together ({getattr(error, 'reason', None) or error}). Give the "
                         "server's certificate (PEM) and its own private key.") from None
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    # The first certificate is the server's (text before it, as openssl may write, is fine).
    server_certificate = x509.load_pem_x509_certificates(Path(cert_file).read_bytes())[0]
    return Certificate.from_der(server_certificate.public_bytes(Encoding.DER))


def _bind(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.create_server((host, port), family=family)
    except OSError as error:
        reason = ("another program already listens on that port" if error.errno == 98 else
                  "that address does not belong to this machine" if error.errno == 99 else
                  error.strerror or str(error))
        raise ServeError(f"Cannot listen on {host}:{port}: {reason}.") from None
    listener.set_inheritable(True)
    return listener


def serve_child(argv: list[str]) -> int:
    """The child: llama.cpp's server on the descriptors the parent handed over, answering as
    the model it serves (see `serve_app`)."""
    import uvicorn
    from llama_cpp.server.settings import ServerSettings

    from strongroom.core.remote.serve_app import create_served_app

    settings = json.loads(argv[0])
    api_key = sys.stdin.readline().strip()
    listener = socket.socket(fileno=settings["socket"])
    host, port = listener.getsockname()[:2]
    app = create_served_app(
        settings["model"], settings["alias"], settings["context_length"],
        settings.get("embedding", False),
        ServerSettings(host=host, port=port, api_key=api_key, ssl_certfile=settings["cert"],
                       ssl_keyfile=settings["key"]))
    config = uvicorn.Config(app, ssl_certfile=settings["cert"], ssl_keyfile=settings["key"],
                            log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    print(READY, flush=True)
    uvicorn.Server(config).run(sockets=[listener])
    return 0
