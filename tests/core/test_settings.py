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


def test_a_model_keeps_its_own_sampling_preset(tmp_path):
    path = tmp_path / "settings.json"
    settings = Settings(path)
    settings.use_model("legal-8b")
    settings.update({"temperature": 0.1, "system_prompt": "Cite clauses.", "lock_after_minutes": 5})
    settings.use_model("clinic-3b")
    assert settings["temperature"] == 0.1  # a model without a preset starts from the last values
    settings.update({"temperature": 0.9})
    settings.use_model("legal-8b")
    assert settings["temperature"] == 0.1 and settings["system_prompt"] == "Cite clauses."
    reread = Settings(path)
    reread.use_model("clinic-3b")
    assert reread["temperature"] == 0.9
    reread.use_model("legal-8b")
    assert reread.as_dict()["temperature"] == 0.1
    assert reread.preset("legal-8b") == {"temperature": 0.1, "system_prompt": "Cite clauses."}
    assert reread["lock_after_minutes"] == 5  # not a per-model setting: one value for all
    reread.use_model(None)
    assert reread["temperature"] == 0.9  # the general value is the last one set


def test_a_damaged_preset_falls_back_to_the_general_values(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"temperature": 0.4, "model_presets": {
        "good": {"temperature": 0.2, "lock_after_minutes": 9, "nonsense": 1},
        "bad": {"temperature": "hot", "top_k": 12},
        "worse": [1, 2]}}))
    settings = Settings(path)
    settings.use_model("good")
    assert settings["temperature"] == 0.2 and settings["lock_after_minutes"] == 0
    settings.use_model("bad")
    assert settings["temperature"] == 0.4 and settings["top_k"] == 12
    settings.use_model("worse")
    assert settings["temperature"] == 0.4
    assert any("'bad'" in problem and "Temperature" in problem for problem in settings.problems)
    assert any("'worse'" in problem for problem in settings.problems)


def test_the_theme_is_one_of_its_choices(tmp_path):
    settings = Settings(tmp_path / "settings.json")
    assert settings["theme"] == "system"
    settings.update({"theme": "dark"})
    with pytest.raises(ValueError, match="Theme must be one of system, light, dark, not 'purple'"):
        settings.update({"theme": "purple"})
    assert Settings(tmp_path / "settings.json")["theme"] == "dark"


def test_every_dialog_setting_has_a_known_section():
    from strongroom.core.settings import SECTIONS

    assert {s.section for s in DECLARED if s.in_dialog} == set(SECTIONS)
