"""The catalog: each stored model as one identity, built once from the store's record."""

from strongroom.core.store.catalog import catalog_from_store
from strongroom.core.store.model_store import ModelStore

DEMO_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def test_a_stored_model_carries_its_identity(home, stored_model):
    catalog = catalog_from_store(ModelStore(home.store_dir))
    identity, = catalog.entries
    version, = ModelStore(home.store_dir).versions()
    assert identity.path == stored_model and identity.usable
    assert identity.name == "SmolLM2-135M-Instruct" and identity.model_id == "SmolLM2-135M-Instruct"
    assert identity.sha256 == DEMO_SHA256
    assert identity.store_version == f"SmolLM2-135M-Instruct/{version.version}"
    assert identity.summary() == "SmolLM2-135M-Instruct · 98.4 MB · Q4_1 · 8,192 ctx · 135M params"
    assert catalog.find("SmolLM2-135M-Instruct") == identity
    assert catalog.find(str(stored_model)) == identity
    assert catalog.find("nothing") is None


def test_an_empty_store_says_how_to_bring_a_model_in(tmp_path):
    catalog = catalog_from_store(ModelStore(tmp_path / "store"))
    assert catalog.entries == [] and "Import from a drive" in catalog.notice
