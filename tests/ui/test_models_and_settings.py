"""Choosing models (good, bad, none) and changing settings in the window."""

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from strongroom.core.inference.identity import identify_file
from strongroom.ui.settings.settings_dialog import SettingsDialog
from tests.helpers.window import ANSWER_TIMEOUT_MS, answer_next_dialog, send

pytestmark = pytest.mark.model


def test_an_empty_store_is_explained(qtbot, open_window, home):
    window = open_window(wait_for_model=False)
    with qtbot.waitSignal(window.catalogShown, timeout=30_000):
        pass
    assert "No model is installed yet" in window.chat_view.welcome_text.text()
    assert window.notice.text == ""  # said once, by the empty state with its button
    assert not window.model_picker.isEnabled()
    window.input.setPlainText("hello")
    window.send()
    assert "Choose a model first" in window.notice.text
    assert window.chats.conversations() == []


def test_picker_describes_stored_models_and_disables_damaged_ones(qtbot, open_window, workspace,
                                                                   stored_model, demo_model):
    # A stored version whose file was damaged on disk after the import (bit rot).
    damaged = workspace.store.models_dir / "Damaged" / "0000000000000000"
    damaged.mkdir(parents=True)
    (damaged / "damaged.gguf").write_bytes(demo_model.read_bytes()[:1000])
    (damaged / "provenance.json").write_text(json.dumps(
        {"model_id": "damaged", "files": [{"path": "damaged.gguf", "sha256": "0" * 64,
                                           "size_bytes": 98362432}]}))
    window = open_window()
    picker = window.model_picker
    texts = [picker.itemText(i) for i in range(picker.count())]
    assert texts[0].startswith("Damaged — cannot be used")
    assert texts[1] == "SmolLM2-135M-Instruct · 98.4 MB · Q4_1 · 8,192 ctx · 135M params"
    assert not picker.model().item(0).isEnabled()
    assert "truncated" in picker.itemData(0, Qt.ItemDataRole.ToolTipRole)
    tooltip = picker.itemData(1, Qt.ItemDataRole.ToolTipRole)
    assert "Chat template: yes" in tooltip and "Imported" in tooltip
    assert window.status.model_label.text().startswith("Model: SmolLM2-135M-Instruct · context ")


def test_a_model_that_fails_to_load_leaves_the_window_working(qtbot, open_window, workspace,
                                                              stored_model, demo_model, tmp_path):
    truncated = tmp_path / "broken.gguf"
    truncated.write_bytes(demo_model.read_bytes()[: 50_000_000])
    window = open_window()
    good = window.loaded.identity
    with qtbot.waitSignal(window.modelFailed, timeout=ANSWER_TIMEOUT_MS) as failed:
        window.models.load(identify_file(truncated))
    assert "truncated" in failed.args[0] and "truncated" in window.notice.text
    assert window.loaded is None and window.status.model_label.text() == "No model loaded"
    with qtbot.waitSignal(window.modelReady, timeout=ANSWER_TIMEOUT_MS):
        window.models.load(good)
    workspace.settings.update({"max_tokens": 16})
    assert send(qtbot, window, "Still working?").text


def test_settings_dialog_persists_and_reloads_the_model(qtbot, window, home):
    dialog = SettingsDialog(window.settings.as_dict(), window)
    qtbot.addWidget(dialog)
    dialog.editors["temperature"].setValue(0.3)
    dialog.editors["context_length"].setValue(768)
    dialog.editors["system_prompt"].setPlainText("Answer like a careful lawyer.")
    assert dialog.editors["gpu_layers"].text() == "auto"
    with qtbot.waitSignal(window.modelReady, timeout=ANSWER_TIMEOUT_MS) as reloaded:
        window.apply_settings(dialog.values())
    assert reloaded.args[0].n_ctx == 768
    assert "Reloading the model" in window.notice.text or window.notice.text == ""
    from strongroom.core.settings import Settings

    saved = Settings(home.settings_file)
    assert saved["temperature"] == 0.3 and saved["context_length"] == 768
    assert saved["system_prompt"] == "Answer like a careful lawyer."


def test_settings_dialog_opens_from_the_menu_and_cancel_changes_nothing(qtbot, window, home):
    before = home.settings_file.read_bytes()
    answer_next_dialog("Cancel")
    window.dialogs.open_settings()
    assert home.settings_file.read_bytes() == before


def test_the_context_length_is_one_figure_and_capped_at_the_trained_length(qtbot, window):
    from strongroom.ui.settings.settings_dialog import SettingsDialog

    assert window.status.model_label.text().endswith("context 1,024 of 8,192 tokens")
    trained = window.loaded.identity.info.context_length
    dialog = SettingsDialog(window.settings.as_dict(), window, trained_context=trained)
    qtbot.addWidget(dialog)
    assert dialog.editors["context_length"].maximum() == 8192


def test_settings_come_in_sections_and_restore_defaults_resets_one_section(qtbot, window):
    dialog = SettingsDialog(window.settings.as_dict(), window, model=window.settings.model)
    qtbot.addWidget(dialog)
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == [
        "Model", "Sampling", "Privacy", "Appearance", "Audit"]
    dialog.editors["temperature"].setValue(1.5)
    dialog.editors["context_length"].setValue(768)
    dialog.tabs.setCurrentIndex(1)  # Sampling
    qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    values = dialog.values()
    assert values["temperature"] == 0.7 and values["max_tokens"] == 1024
    assert values["context_length"] == 768  # another section: untouched
    assert window.loaded.identity.name in " ".join(
        label.text() for label in dialog.findChildren(QLabel))


def test_each_model_gets_its_own_sampling_back(qtbot, window, workspace):
    name = window.loaded.identity.name
    window.apply_settings({"temperature": 0.15})
    assert workspace.settings.preset(name)["temperature"] == 0.15
    assert window.session.sampling().temperature == 0.15
    workspace.settings.use_model("another-model")
    window.apply_settings({"temperature": 1.1})
    assert window.session.sampling().temperature == 1.1
    with qtbot.waitSignal(window.modelReady, timeout=ANSWER_TIMEOUT_MS):
        window.models.load(window.loaded.identity)  # choosing the model again
    assert window.session.sampling().temperature == 0.15
