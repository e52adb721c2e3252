"""The main window's menus: every action with its shortcut, in one table, and the small
information boxes of the Audit and Help menus."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox

from strongroom import __version__
from strongroom.core.audit.keys import show_fingerprint


def build_menus(window: QMainWindow) -> dict[str, QAction]:
    """Add the menu bar's menus to ``window`` (the `MainWindow`, whose slots the actions
    call); return its actions by their text."""
    w = window
    menus = {
        "&File": [("&New conversation", w.new_conversation, "Ctrl+N"),
                  ("Export as &Markdown…", lambda: w.dialogs.ask_export("md"), "Ctrl+Shift+M"),
                  ("Export as &JSON…", lambda: w.dialogs.ask_export("json"), "Ctrl+Shift+J"),
                  None, ("&Preferences…", w.dialogs.open_settings, "Ctrl+,"),
                  None, ("&Lock now", lambda: w.locking.lock_now(), "Ctrl+Shift+L"),
                  ("&Quit", w.close, "Ctrl+Q")],
        "&Chat": [("&Stop answer", w.stop, "Esc"),
                  ("&Regenerate answer", w.regenerate, "Ctrl+R"),
                  ("C&ontinue answer", w.continue_answer, "Ctrl+Shift+R"),
                  ("&Edit last message", w.edit_last_message, "Ctrl+E"),
                  ("&Copy last answer", w.keys.copy_last_answer, "Ctrl+Shift+C"),
                  ("&Previous version of a message", lambda: w.keys.show_version(-1), "Alt+Left"),
                  ("Ne&xt version of a message", lambda: w.keys.show_version(+1), "Alt+Right"),
                  ("Menu of the message (also the menu key)", w.keys.show_context_menu, "Shift+F10"),
                  None,
                  ("&Documents…", w.documents.open_documents, "Ctrl+D"),
                  ("&Attach documents to this conversation…", w.documents.ask_attach, None),
                  ("Choose &documents to answer from", w.library_picker.showPopup, "Ctrl+Shift+D"),
                  None,
                  ("Search conversations", w.keys.focus_search, "Ctrl+F"),
                  ("Rename conversation…", w.conversations.rename_current, "F2"),
                  ("Delete conversation…", w.conversations.delete_current, "Ctrl+Delete"),
                  ("Go to message box", w.input.setFocus, "Ctrl+L")],
        "&View": [("Zoom &in", w.appearance.zoom_in, ("Ctrl+=", "Ctrl++")),
                  ("Zoom &out", w.appearance.zoom_out, "Ctrl+-"),
                  ("&Actual size", w.appearance.reset_zoom, "Ctrl+0"), None,
                  ("Show &conversations", w.keys.show_sidebar, "Ctrl+B")],
        "&Model": [("&Choose model", w.keys.focus_model_picker, "Ctrl+M"),
                   ("&Import from a drive…", w.dialogs.open_import_wizard, "Ctrl+I"),
                   ("&Refresh models", w.models.refresh, "F5"),
                   ("Manage &models…", w.dialogs.open_model_manager, None)],
        "&Audit": [("Open the audit log &viewer…", w.dialogs.open_audit_viewer, "Ctrl+Shift+A"),
                   ("Export a &checkpoint…", w.dialogs.ask_checkpoint, None),
                   ("Audit &key: fingerprint and where it is kept", lambda: show_key_storage(w), None)],
        "&Help": [("&Keyboard shortcuts", lambda: show_shortcuts(w), "F1"),
                  ("&Compliance…", w.dialogs.open_compliance_view, None),
                  ("Where Strongroom keeps its files", lambda: show_paths(w), None),
                  ("&About Strongroom", lambda: show_about(w), None)],
    }
    actions: dict[str, QAction] = {}
    for title, items in menus.items():
        menu = window.menuBar().addMenu(title)
        for item in items:
            if item is None:
                menu.addSeparator()
                continue
            text, slot, shortcut = item
            action = QAction(text, window)
            if isinstance(shortcut, tuple):
                action.setShortcuts([QKeySequence(keys) for keys in shortcut])
            elif shortcut:
                action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(slot)
            menu.addAction(action)
            actions[text.replace("&", "")] = action
    return actions


def shortcut_lines(window: QMainWindow) -> list[str]:
    """Every action that has a shortcut, as 'Ctrl+N  New conversation', in menu order."""
    lines = []
    for text, action in window.actions_by_text.items():
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if keys:
            lines.append(f"{keys:<14} {text.rstrip('…')}")
    lines += ["Enter          Send the message", "Shift+Enter    A new line in the message",
              "Down, Enter    In the search box: reach the conversations found",
              "Tab            Through the messages: Edit, ‹ ›, Copy, the text, its sources",
              "Menu key       On a message: Copy, Edit and send again, its versions",
              "Alt+Left/Right The message with the keyboard (else the last one that has",
              "               versions): its previous or next version"]
    return lines


def show_shortcuts(window: QMainWindow) -> None:
    box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts",
                      "\n".join(shortcut_lines(window)), QMessageBox.StandardButton.Close, window)
    box.setStyleSheet("QLabel { font-family: monospace; }")
    box.exec()


def show_key_storage(window: QMainWindow) -> None:
    audit = window.audit
    if not audit.available:
        QMessageBox.warning(window, "Audit key", audit.problem)
        return
    QMessageBox.information(
        window, "Audit key",
        f"The audit verification key of this log has the fingerprint "
        f"{show_fingerprint(audit.log.fingerprint)}: an auditor can check that the key they hold "
        f"has the same one.\n\nThe log's current (daily) key is kept in {audit.log.key_storage}.")


def show_paths(window: QMainWindow) -> None:
    lines = "\n".join(f"{name}: {where}" for name, where in window.workspace.paths.describe().items())
    QMessageBox.information(window, "Where Strongroom keeps its files", lines)


def show_about(window: QMainWindow) -> None:
    QMessageBox.about(window, "About Strongroom",
                      f"Strongroom {__version__}\nA private AI workstation for isolated "
                      "machines. Conversations, documents and the audit log stay on this "
                      "computer; messages leave it only for the firm's own inference server, "
                      "when one is configured (Settings → Servers).")
