"""The settings dialog, built from the declarations in `strongroom.core.settings`."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from strongroom.core.settings import DECLARED, Setting


def _editor_for(setting: Setting, value: Any) -> QWidget:
    if setting.type is bool:
        editor = QCheckBox()
        editor.setChecked(value)
        return editor
    if setting.type is str:
        editor = QPlainTextEdit(value)
        editor.setMaximumHeight(90)
        editor.setTabChangesFocus(True)  # Tab moves on, as in every other field
        return editor
    if setting.type is int:
        editor = QSpinBox()
        editor.setRange(int(setting.minimum), int(setting.maximum))
        editor.setSingleStep(int(setting.step or 1))
    else:
        editor = QDoubleSpinBox()
        editor.setDecimals(2)
        editor.setRange(float(setting.minimum), float(setting.maximum))
        editor.setSingleStep(float(setting.step or 0.1))
    if setting.special_value:
        editor.setSpecialValueText(setting.special_value)
    editor.setValue(value)
    return editor


def _value_of(editor: QWidget) -> Any:
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, QPlainTextEdit):
        return editor.toPlainText()
    return editor.value()


class SettingsDialog(QDialog):
    def __init__(self, values: dict[str, Any], parent: QWidget | None = None,
                 trained_context: int | None = None):
        """``trained_context``: the loaded model's trained context length, the most the
        context length can usefully be."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.editors: dict[str, QWidget] = {}
        form = QFormLayout()
        for setting in DECLARED:
            if not setting.in_dialog:
                continue
            editor = _editor_for(setting, values[setting.name])
            editor.setToolTip(setting.help)
            editor.setAccessibleName(setting.label)
            editor.setObjectName(f"setting-{setting.name}")
            self.editors[setting.name] = editor
            form.addRow(setting.label, editor)
            if setting.name == "context_length" and trained_context:
                editor.setMaximum(max(int(setting.minimum), trained_context))
                form.addRow("", QLabel(f"The loaded model was trained on {trained_context:,} "
                                       "tokens; more would only be cut back to that."))
            if setting.type is bool:  # switches here change what is recorded: say how, in full
                explanation = QLabel(setting.help)
                explanation.setWordWrap(True)
                explanation.setObjectName("settingWarning")
                form.addRow("", explanation)
        note = QLabel("Context length, GPU layers, threads and batch size take effect when the "
                      "model is loaded again; Strongroom reloads it for you.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def values(self) -> dict[str, Any]:
        return {name: _value_of(editor) for name, editor in self.editors.items()}
