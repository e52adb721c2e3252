"""The embedding model: known by its GGUF header, loaded with its bytes checked, smoke
tested by meaning, and never offered for chat."""

import numpy as np
import pytest

from strongroom.core.inference.embeddings import Embedder
from strongroom.core.inference.engine import EngineError
from strongroom.core.inference.identity import identify_file
from strongroom.core.store.catalog import catalog_from_store
from strongroom.core.store.model_store import ModelStore
from strongroom.core.store.smoke_test import embedding_smoke_test, run_smoke_test


def test_the_header_tells_an_embedding_model_from_a_chat_model(embedding_model, demo_model):
    assert identify_file(embedding_model).role == "embedding"
    assert identify_file(demo_model).role == "chat"


def test_vectors_are_unit_length_and_mean_something(embedder):
    rent, lessee, warfarin = embedder.embed_many([
        "The tenant must pay rent monthly.", "Rent is due every month from the lessee.",
        "The patient was given warfarin."])
    assert rent.shape == (384,) and abs(float(np.linalg.norm(rent)) - 1) < 1e-4
    assert float(rent @ lessee) > 0.5 > 0.2 > float(rent @ warfarin)


def test_a_chat_model_or_changed_bytes_are_refused(embedding_model, demo_model):
    with pytest.raises(EngineError, match="writes text, not an embedding model"):
        Embedder.load(demo_model)
    with pytest.raises(EngineError, match="is not the file that was imported"):
        Embedder.load(embedding_model, expected_sha256="0" * 64)


def test_the_smoke_test_of_an_embedding_model_checks_meaning(embedding_model):
    result = embedding_smoke_test(embedding_model, None)
    assert result["passed"] and len(result["model_sha256"]) == 64


def test_stored_it_is_listed_apart_and_smoke_tested_as_one(home, stored_embedding_model, stored_model):
    catalog = catalog_from_store(ModelStore(home.store_dir))
    assert [e.name for e in catalog.entries] == ["SmolLM2-135M-Instruct"]
    assert catalog.embedding_model().name == "all-MiniLM-L6-v2"
    version = next(v for v in ModelStore(home.store_dir).versions() if v.name == "all-MiniLM-L6-v2")
    assert run_smoke_test(version, None)["passed"]
