import json

import pytest
from strongroom.core.settings import AUTO, BY_NAME, DECLARED, Settings


def test_defaults_when_no_file(tmp_path):
    settings = Settings(tmp_path / "settings.json")
    assert settings["temperature"] == BY_NAME["temperature"].default
    assert settings["gpu_layers"] == AUTO
    assert not (tmp_path / "settings.json").exists()


def test_changes_persist_atomically(tmp_path):
    path = tmp_path / "settings.json"
    settings = Settings(path)
    changed = settings.update({"temperature": 0.2, "max_tokens": 256, "top_k": 40})
    assert changed == {"temperature": (0.7, 0.2), "max_tokens": (1024, 256)}
    assert Settings(path)["temperature"] == 0.2
    assert Settings(path)["max_tokens"] == 256
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]  # no temporary left


def test_invalid_change_stores_nothing(tmp_path):
    path = tmp_path / "settings.json"
    settings = Settings(path)
    settings.update({"temperature": 0.5})
    before = path.read_bytes()
    with pytest.raises(ValueError, match="Temperature must be at most 2.0"):
        settings.update({"max_tokens": 64, "temperature": 5})
    with pytest.raises(ValueError, match="no setting called"):
        settings.update({"colour": "blue"})
    assert path.read_bytes() == before
    assert settings["max_tokens"] == 1024


@pytest.mark.parametrize("content, problem", [
    (b"{not json", "unreadable"),
    (b"[1, 2]", "unreadable"),
    (json.dumps({"top_k": "many"}).encode(), "Top-k must be a number"),
    (json.dumps({"top_k": 2.5}).encode(), "whole number"),
    (json.dumps({"min_p": True}).encode(), "Min-p must be a number"),
])
def test_damaged_file_falls_back_with_a_reason(tmp_path, content, problem):
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    settings = Settings(path)
    assert settings["top_k"] == 40 and settings["min_p"] == 0.05
    assert any(problem in p and str(path) in p for p in settings.problems)
    assert path.read_bytes() == content  # the user's file is left as it was


def test_every_declaration_accepts_its_default():
    for setting in DECLARED:
        assert setting.coerce(setting.default) == setting.default
        assert setting.help and setting.label
