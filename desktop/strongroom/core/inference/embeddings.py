"""Embedding models: turning a passage or a question into a vector, with llama.cpp's
embedding mode, loaded the way the engine loads a chat model (the file opened once, its
header read by our own bounds-checked reader first, its bytes hashed while llama.cpp
loads them and checked against the store's record).

A model's role comes from its GGUF header (`identity.is_embedding_model`): an embedding
model is used by the document libraries and never offered for chat.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from strongroom.core.inference import llama_runtime
from strongroom.core.inference.engine import (
    BackgroundHash,
    EngineError,
    OpenModel,
    changed_since_import,
    default_threads,
)
from strongroom.core.inference.gguf_header import GGUFError, read_gguf_info
from strongroom.core.inference.identity import is_embedding_model

log = logging.getLogger(__name__)

CONTEXT = 512  # tokens an embedding reads (passages are about 250); longer text is cut


class Embedder:
    """An embedding model, loaded; safe to call from one thread at a time or several (a
    lock keeps llama.cpp to one call at once)."""

    def __init__(self, llm, model_sha256: str, name: str):
        self._llm = llm
        self._lock = threading.Lock()
        self.model_sha256 = model_sha256
        self.name = name
        self.dimensions = llm.n_embd()

    @classmethod
    def load(cls, path: Path | str, expected_sha256: str | None = None,
             name: str | None = None, threads: int | None = None) -> "Embedder":
        path = Path(path)
        with OpenModel(path) as model_file:
            try:
                info = read_gguf_info(model_file.load_path, display_path=path)
            except GGUFError as error:
                raise EngineError(f"This file cannot be used as an embedding model. {error}") from None
            if not is_embedding_model(info):
                raise EngineError(f"{path.name} is a {info.architecture} model that writes text, "
                                  "not an embedding model.")
            hashing = BackgroundHash(model_file.fd, info.file_size, lambda *_: None)
            context = min(CONTEXT, info.context_length or CONTEXT)
            threads = threads or default_threads()
            try:
                llm = llama_runtime.llama_module().Llama(
                    model_path=model_file.load_path, embedding=True, n_ctx=context,
                    n_batch=context, n_ubatch=context, n_threads=threads,
                    n_threads_batch=threads, n_gpu_layers=0, verbose=False)
            except Exception as error:
                hashing.cancel()
                raise EngineError(f"llama.cpp could not load the embedding model {path.name} "
                                  f"({error}).") from None
            sha256 = hashing.result()
        if expected_sha256 is not None and sha256 != expected_sha256:
            llm.close()
            raise EngineError(changed_since_import(path, sha256, expected_sha256, "use"))
        log.info("Loaded the embedding model %s (%s)", path, sha256)
        return cls(llm, sha256, name or path.stem)

    def embed(self, text: str) -> np.ndarray:
        """``text``'s vector, of unit length."""
        return self.embed_many([text])[0]

    def embed_many(self, texts: Sequence[str]) -> list[np.ndarray]:
        with self._lock:
            if self._llm is None:
                raise EngineError("The embedding model was closed.")
            vectors = self._llm.embed(list(texts), normalize=True, truncate=True)
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None
