"""The settings dialog, built from the declarations in `strongroom.core.settings`: one tab
per section, Restore defaults, and a word on which values are the loaded model's preset."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from strongroom.core.settings import DECLARED, SECTIONS, Setting


def _editor_for(setting: Setting, value: Any) -> QWidget:
    if setting.choices:
        editor = QComboBox()
        for choice, label in setting.choices:
            editor.addItem(label, choice)
        editor.setCurrentIndex(max(editor.findData(value), 0))
        return editor
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
        if setting.refused is not None:  # the special value sits just below the allowed range
            editor.setMinimum(setting.refused[1])
            editor.setProperty("special_stands_for", setting.minimum)
            value = editor.minimum() if value == setting.minimum else value
    else:
        editor = QDoubleSpinBox()
        editor.setDecimals(2)
        editor.setRange(float(setting.minimum), float(setting.maximum))
        editor.setSingleStep(float(setting.step or 0.1))
    if setting.special_value:
        editor.setSpecialValueText(setting.special_value)
    editor.setValue(value)
    return editor


def _set_value(editor: QWidget, value: Any) -> None:
    if isinstance(editor, QComboBox):
        editor.setCurrentIndex(max(editor.findData(value), 0))
    elif isinstance(editor, QCheckBox):
        editor.setChecked(value)
    elif isinstance(editor, QPlainTextEdit):
        editor.setPlainText(value)
    elif editor.property("special_stands_for") is not None and value == editor.property("special_stands_for"):
        editor.setValue(editor.minimum())
    else:
        editor.setValue(value)


def _value_of(editor: QWidget) -> Any:
    if isinstance(editor, QComboBox):
        return editor.currentData()
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, QPlainTextEdit):
        return editor.toPlainText()
    if editor.property("special_stands_for") is not None and editor.value() == editor.minimum():
        return editor.property("special_stands_for")
    return editor.value()


class SettingsDialog(QDialog):
    def __init__(self, values: dict[str, Any], parent: QWidget | None = None,
                 trained_context: int | None = None, model: str | None = None,
                 pages: dict[str, QWidget] | None = None):
        """``trained_context``: the loaded model's trained context length, the most the
        context length can usefully be. ``model``: the loaded model's name, whose preset
        the per-model values are. ``pages``: more tabs, by title (Servers), whose changes
        take effect at once rather than on OK."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.editors: dict[str, QWidget] = {}
        self.tabs = QTabWidget()
        forms = {}
        for section in SECTIONS:
            page = QWidget()
            forms[section] = QFormLayout(page)
            self.tabs.addTab(page, section)
        for setting in DECLARED:
            if not setting.in_dialog:
                continue
            form = forms[setting.section]
            editor = _editor_for(setting, values[setting.name])
            editor.setToolTip(setting.help)
            editor.setAccessibleName(setting.label)
            editor.setObjectName(f"setting-{setting.name}")
            self.editors[setting.name] = editor
            form.addRow(setting.label, editor)
            if setting.name == "context_length":
                form.addRow("", self._context_explanation(editor, setting, trained_context))
            if setting.type is bool:  # switches here change what is recorded: say how, in full
                explanation = QLabel(setting.help)
                explanation.setWordWrap(True)
                explanation.setObjectName("settingWarning")
                form.addRow("", explanation)
        forms["Model"].addRow("", _note(
            "Context length, GPU layers, threads and batch size take effect when the model is "
            "loaded again; Strongroom reloads it for you."))
        preset_note = (f"These values are remembered for {model}: choosing it again brings "
                       "them back." if model else
                       "When a model is loaded, these values are remembered for it.")
        forms["Sampling"].addRow("", _note(preset_note))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.restore_button = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        self.restore_button.setToolTip("Put every setting on this page back to its default")
        self.restore_button.clicked.connect(self.restore_defaults)
        self.tabs.currentChanged.connect(  # the pages of their own have no defaults
            lambda index: self.restore_button.setEnabled(index < len(SECTIONS)))
        for title, page in (pages or {}).items():
            self.tabs.addTab(page, title)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)

    @staticmethod
    def _context_explanation(editor: QSpinBox, setting: Setting,
                             trained_context: int | None) -> QLabel:
        """What the one context length figure means, and its cap for the loaded model."""
        text = ("The conversation the model reads at once, in tokens (about ¾ of a word "
                "each); the answer's room is taken from it.")
        if trained_context:
            editor.setMaximum(max(int(setting.minimum), trained_context))
            text += (f" The loaded model was trained on {trained_context:,} tokens, the most "
                     "it can use.")
        return _note(text)

    def restore_defaults(self) -> None:
        """Put the settings of the tab in view back to their defaults (saved on OK)."""
        if self.tabs.currentIndex() >= len(SECTIONS):  # a page of its own (Servers)
            return
        section = SECTIONS[self.tabs.currentIndex()]
        for setting in DECLARED:
            if setting.name in self.editors and setting.section == section:
                editor = self.editors[setting.name]
                default = setting.default
                if isinstance(editor, QSpinBox):
                    default = min(default, editor.maximum())
                _set_value(editor, default)

    def values(self) -> dict[str, Any]:
        return {name: _value_of(editor) for name, editor in self.editors.items()}


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label
