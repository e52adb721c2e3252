"""What the document tests share: a library made from a folder of real documents, and
the embedding model loaded."""


import pytest


@pytest.fixture(scope="module")
def embedder(embedding_model):
    from strongroom.core.inference.embeddings import Embedder

    loaded = Embedder.load(embedding_model)
    yield loaded
    loaded.close()


@pytest.fixture
def loaded(demo_model):
    """The demo model as the engine thread reports it (for turns that need no real answer)."""
    from strongroom.core.inference.identity import LoadedModel, identify_file

    return LoadedModel(identify_file(demo_model, name="Demo", model_id="org/demo"), "CPU", 1024,
                       None, False, "ab" * 32)


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
