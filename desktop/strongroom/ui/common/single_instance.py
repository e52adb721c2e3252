"""One window per data folder: starting Strongroom again brings the open window forward
instead of opening a second one on the same conversations and audit log.

The first window listens on a local socket inside this user's private folders (the
session's runtime folder, else the data folder), so no other user can reach it or take its
name. A socket left by a window that crashed answers nobody and is replaced.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

RAISE = b"raise\n"
_MAX_SOCKET_PATH = 100  # Unix socket paths are limited to 108 bytes


def socket_path(data_dir: Path) -> str:
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    for folder in (os.environ.get("XDG_RUNTIME_DIR"), str(data_dir)):
        if folder and os.path.isdir(folder):
            path = os.path.join(folder, f"strongroom-window-{digest}")
            if len(path) <= _MAX_SOCKET_PATH:
                return path
    return os.path.join(tempfile.gettempdir(), f"strongroom-{os.getuid()}-window-{digest}")


class SingleInstance(QObject):
    """Signals:
        raiseRequested(): another start of Strongroom asked this window to come forward.
    """

    raiseRequested = Signal()

    def __init__(self, data_dir: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.path = socket_path(data_dir)
        self.server: QLocalServer | None = None

    def ask_running_window(self, timeout_ms: int = 1000) -> bool:
        """True when a window already runs on this data folder (and was asked to come
        forward)."""
        socket = QLocalSocket()
        socket.connectToServer(self.path)
        if not socket.waitForConnected(timeout_ms):
            return False
        socket.write(RAISE)
        socket.waitForBytesWritten(timeout_ms)
        socket.disconnectFromServer()
        return True

    def listen(self) -> bool:
        QLocalServer.removeServer(self.path)  # what a crashed window left
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._on_connection)
        return self.server.listen(self.path)

    @Slot()
    def _on_connection(self) -> None:
        while self.server is not None and self.server.hasPendingConnections():
            connection = self.server.nextPendingConnection()
            # The message is a few bytes sent with the connection; a caller that sends
            # nothing is dropped after a short wait.
            if connection.bytesAvailable() or connection.waitForReadyRead(500):
                if bytes(connection.readAll()).startswith(RAISE.strip()):
                    self.raiseRequested.emit()
            connection.abort()
            connection.deleteLater()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
