"""`strongroom models`, `store` and `paths`, run as real subprocesses."""

import json

from tests.helpers.cli import strongroom


def test_models_lists_the_store(home, stored_model):
    result = strongroom("models", home=home)
    assert result.returncode == 0
    assert "SmolLM2-135M-Instruct · 98.4 MB · Q4_1 · 8,192 ctx · 135M params" in result.stdout
    listed = json.loads(strongroom("models", "--json", home=home).stdout)
    assert [m["usable"] for m in listed] == [True]
    assert listed[0]["context_length"] == 8192 and listed[0]["path"] == str(stored_model)
    assert listed[0]["model_id"] == "SmolLM2-135M-Instruct"



def test_models_with_an_empty_store(home):
    result = strongroom("models", home=home)
    assert result.returncode == 0 and "No models have been imported yet" in result.stdout



def test_paths(home):
    result = strongroom("paths", home=home)
    assert result.returncode == 0 and str(home.store_dir) in result.stdout
    assert strongroom("paths", "store", home=home).stdout.strip() == str(home.store_dir)
    assert strongroom("paths", "nowhere", home=home).returncode == 2
