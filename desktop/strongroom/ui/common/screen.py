"""Sizing a window for the screen it opens on: the size it asks for, or as much of the
screen's free area as there is (a 1366×768 laptop keeps its status line in view)."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

SHARE = 0.9  # of the free area, at most: the title bar and the window's edges need the rest


def fit_on_screen(window: QWidget, width: int, height: int) -> None:
    """Resize ``window`` to ``width``×``height`` or the screen's share, and centre it."""
    screen = QGuiApplication.primaryScreen()
    area = screen.availableGeometry() if screen is not None else None
    if area is None:
        window.resize(width, height)
        return
    window.resize(min(width, int(area.width() * SHARE)), min(height, int(area.height() * SHARE)))
    window.move(area.center() - window.rect().center())
