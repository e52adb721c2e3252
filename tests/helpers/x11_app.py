"""The real Strongroom window on a real X display, for tests that type into it with xdotool
(real X key events, through a window manager) and ask it what happened.

    python -m tests.helpers.x11_app            (DISPLAY and STRONGROOM_HOME must be set)

It starts the app as `strongroom` does (offline switches and egress guard first, then
`strongroom.ui.app.run_gui`), and answers questions on its standard input, one per line:
``EXPRESSION`` is evaluated on the GUI thread with the names below, and the answer is one
JSON line on standard output ({"value": …} or {"error": "…"}). ``quit`` closes the window.

    app        the QApplication
    main       the MainWindow
    focus      the widget with the keyboard focus (or None)
    modal      the active modal dialog (or None)
    popup      the open popup menu (or None)
    active     the active window (or None)
    texts(w)   the visible text of every action of a menu ``w``
"""

from __future__ import annotations

import json
import os
import sys

from strongroom.core.offline import EgressGuard, apply_offline_environment

apply_offline_environment()
GUARD = EgressGuard.install()

from PySide6.QtCore import QObject, QSocketNotifier, Slot  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from strongroom.core.app_log import configure_file_logging  # noqa: E402
from strongroom.core.paths import app_paths  # noqa: E402
from strongroom.ui.app import create_application, run_gui  # noqa: E402


class Probe(QObject):
    """Reads questions from standard input when they come (no thread: a socket notifier)."""

    def __init__(self, app: QApplication):
        super().__init__(app)
        self.app = app
        self.pending = b""
        self.notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read, self)
        self.notifier.activated.connect(self._read)

    def names(self) -> dict:
        from strongroom.ui.window.main_window import MainWindow

        main = next((w for w in self.app.topLevelWidgets() if isinstance(w, MainWindow)), None)
        return {"app": self.app, "main": main, "focus": QApplication.focusWidget(),
                "modal": QApplication.activeModalWidget(), "popup": QApplication.activePopupWidget(),
                "active": QApplication.activeWindow(),
                "texts": lambda menu: [a.text() for a in menu.actions() if a.isVisible()]}

    @Slot()
    def _read(self) -> None:
        chunk = os.read(sys.stdin.fileno(), 65536)
        if not chunk:
            self.notifier.setEnabled(False)
            return
        self.pending += chunk
        while b"\n" in self.pending:
            line, self.pending = self.pending.split(b"\n", 1)
            self._answer(line.decode("utf-8").strip())

    def _answer(self, question: str) -> None:
        if question == "quit":
            main = self.names()["main"]
            if main is not None:
                main.close()
            self.app.quit()
            reply = {"value": True}
        else:
            try:
                reply = {"value": eval(question, {}, self.names())}  # a test's own question
            except Exception as error:  # the test sees what went wrong, and carries on
                reply = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(reply, default=repr) + "\n")
        sys.stdout.flush()


def main() -> int:
    app = create_application([sys.argv[0]])
    configure_file_logging(app_paths().app_log)
    Probe(app)
    return run_gui(egress_guard=GUARD)


if __name__ == "__main__":
    raise SystemExit(main())
