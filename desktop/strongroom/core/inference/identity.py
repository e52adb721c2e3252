"""A model's identity: one object that travels from the store to the picker, to the engine
thread and into the audit log, so that no step re-derives it from a path.

`ModelIdentity` says which model a file is (its name, the model id its drive recorded, the
SHA-256 the store recorded for its bytes, its place in the store, its GGUF facts).
`LoadedModel` is what the engine thread reports once the file is loaded: the identity,
plus what the load found (device, context, the SHA-256 of the bytes it really loaded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from strongroom.core.display import printable
from strongroom.core.inference.gguf_header import GGUFError, GGUFInfo, read_gguf_info
from strongroom.core.units import human_count, human_size

ENCODER_ARCHITECTURES = frozenset({"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2",
                                   "jina-bert-v3", "neo-bert", "modern-bert", "t5encoder"})


def is_embedding_model(info: GGUFInfo) -> bool:
    """An encoder architecture (BERT and its kin), or a pooling type, makes a model one
    that writes vectors rather than text."""
    return info.architecture in ENCODER_ARCHITECTURES or info.arch_value("pooling_type") is not None


@dataclass(frozen=True)
class ModelIdentity:
    path: Path  # the file llama.cpp loads
    name: str  # how the window and the commands name it
    model_id: str  # what the drive's manifest called it (e.g. org/model), else the name
    sha256: str | None  # of the file's bytes, as the store recorded them; None outside the store
    store_version: str | None  # "name/version" in the store; None for a file outside it
    # Two identities are the same model when the fields above agree.
    info: GGUFInfo | None = field(compare=False)  # what the header says; None: cannot be used
    provenance: dict | None = field(default=None, compare=False)  # the store's record of origin
    problem: str | None = field(default=None, compare=False)  # why it cannot be used, in words
    server: str | None = None  # the configured inference server that runs it; None: this computer

    @property
    def usable(self) -> bool:
        if self.server is not None:  # a server's model: usable unless the server was not
            return self.problem is None
        return self.info is not None

    @property
    def role(self) -> str:
        """"embedding" for a model that turns text into vectors (document search), else
        "chat"; from the GGUF header."""
        return "embedding" if self.info is not None and is_embedding_model(self.info) else "chat"

    def summary(self) -> str:
        """Name, size, quantization, context length and parameters on one line."""
        if self.server is not None:
            return f"{printable(self.model_id, limit=100)} · on the server {self.server}"
        if self.info is None:
            return f"{self.name} — cannot be used"
        parts = [self.name, human_size(self.info.file_size), self.info.quantization]
        if self.info.context_length:
            parts.append(f"{self.info.context_length:,} ctx")
        if self.info.parameter_count:
            parts.append(f"{human_count(self.info.parameter_count)} params")
        return " · ".join(parts)

    def audit_fields(self) -> dict:
        """How the audit log names this model."""
        if self.server is not None:
            return {"model": self.name, "model_id": self.model_id}
        return {"model": self.name, "model_id": self.model_id, "store_version": self.store_version,
                "file": self.path.name, "recorded_sha256": self.sha256}


def remote_identity(server: str, model_id: str) -> ModelIdentity:
    """A model that the configured inference server ``server`` offers as ``model_id`` (the
    server's own words: its name for people is made printable and short)."""
    return ModelIdentity(Path(), f"{printable(model_id, limit=100)} @ {server}", model_id, None,
                         None, None, server=server)


def identify_file(path: Path, name: str | None = None, model_id: str | None = None,
                  sha256: str | None = None, store_version: str | None = None,
                  provenance: dict | None = None) -> ModelIdentity:
    """The identity of the model file at ``path``; a file outside the store is named after
    itself and has no recorded SHA-256 (the load computes one)."""
    path = Path(path)
    name = name or path.stem
    try:
        info, problem = read_gguf_info(path), None
    except GGUFError as error:
        info, problem = None, str(error)
    return ModelIdentity(path, name, model_id or name, sha256, store_version, info, provenance,
                         problem)


@dataclass(frozen=True)
class LoadedModel:
    """A model the engine has loaded, as the engine thread reports it."""

    identity: ModelIdentity
    device_label: str  # "CPU" or "GPU (n layers)"
    n_ctx: int  # the context length in effect
    fallback_reason: str | None  # why a GPU load fell back to the CPU
    template_is_guess: bool  # the file has no chat template; a generic one is used
    sha256: str | None  # of the bytes llama.cpp loaded; None for a server's model
    # A server's model: the server's name, URL, trust and the certificate's fingerprint.
    server: dict | None = None

    def audit_fields(self) -> dict:
        if self.server is not None:
            return {**self.identity.audit_fields(), "server": self.server}
        return {**self.identity.audit_fields(), "model_sha256": self.sha256}
