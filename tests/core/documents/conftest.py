"""What the document tests share: a library made from a folder of real documents, and
the embedding model made at setup."""

from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.helpers.documents import make_library_folder

EMBEDDING_MODEL = REPO / ".cache" / "embedding" / "all-MiniLM-L6-v2.F16.gguf"


@pytest.fixture(scope="session")
def embedding_model() -> Path:
    if not EMBEDDING_MODEL.is_file():
        pytest.fail(f"The embedding model {EMBEDDING_MODEL} is missing: run the tests with "
                    "`make test`, which makes it first.")
    return EMBEDDING_MODEL


@pytest.fixture(scope="module")
def embedder(embedding_model):
    from strongroom.core.inference.embeddings import Embedder

    loaded = Embedder.load(embedding_model)
    yield loaded
    loaded.close()


@pytest.fixture
def folder(tmp_path) -> Path:
    return make_library_folder(tmp_path / "documents")


@pytest.fixture
def indexer(workspace):
    return workspace.indexer()


@pytest.fixture
def library(indexer, folder):
    """The library "Casework", holding the folder's documents."""
    library = indexer.create_library("Casework")
    report = indexer.add(library, [folder])
    assert len(report.added) == 4 and not report.failed, report.failed
    return library
