"""The window's appearance settings at work: theme (following the desktop when asked),
font size, and zoom with Ctrl+= / Ctrl+- / Ctrl+0."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from strongroom.core.settings import Settings
from strongroom.ui.common import theme

log = logging.getLogger(__name__)


class Appearance(QObject):
    """Applies the `theme` and `font_size` settings to the application.

    Signals:
        changed(): the palette or the font size changed (views that draw their own
        colours, like code in the chat, draw again).
    """

    changed = Signal()

    def __init__(self, settings: Settings, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_system_scheme)
        self._following = True
        self.apply()

    def apply(self, scheme: Qt.ColorScheme | None = None) -> None:
        theme.apply_appearance(QApplication.instance(), self.settings["theme"],
                               self.settings["font_size"], scheme)
        self.changed.emit()

    @property
    def point_size(self) -> int:
        return self.settings["font_size"] or theme.default_point_size()

    @Slot()
    def zoom_in(self) -> None:
        self._set_size(theme.zoomed(self.point_size, +1))

    @Slot()
    def zoom_out(self) -> None:
        self._set_size(theme.zoomed(self.point_size, -1))

    @Slot()
    def reset_zoom(self) -> None:
        self._set_size(0)

    def _set_size(self, size: int) -> None:
        if size == theme.default_point_size():
            size = 0
        try:
            changed = self.settings.update({"font_size": size})
        except (OSError, ValueError) as error:
            log.error("the font size could not be saved: %s", error)
            changed = True  # still show it for this session
        if changed:
            theme.apply_appearance(QApplication.instance(), self.settings["theme"], size)
            self.changed.emit()

    def stop_following(self) -> None:
        """Stop answering the desktop's theme changes (the window is closing)."""
        if self._following:
            QGuiApplication.styleHints().colorSchemeChanged.disconnect(self._on_system_scheme)
            self._following = False

    @Slot(Qt.ColorScheme)
    def _on_system_scheme(self, scheme: Qt.ColorScheme) -> None:
        if self.settings["theme"] == "system":
            self.apply(scheme)
