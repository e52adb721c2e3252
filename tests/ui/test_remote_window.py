"""The window with the firm's inference server: its models in the model list, streamed
answers from a real `strongroom serve`, and Settings → Servers."""

from __future__ import annotations

import os
import signal

import pytest

from strongroom.core.remote.servers import read_ca_file
from tests.conftest import replicate_tree
from tests.helpers.audit_logs import entries_of
from tests.helpers.serving import API_KEY, free_port, start_serve
from tests.helpers.tls import make_ca
from tests.helpers.window import ANSWER_TIMEOUT_MS, FAST_SETTINGS, send

pytestmark = pytest.mark.model

REMOTE = "SmolLM2-135M-Instruct @ firm"


def configure(workspace, firm):
    workspace.servers.add("firm", firm.url, ca_pem=read_ca_file(firm.ca.pem),
                          api_key=firm.api_key, timeout_s=30)


def test_a_workstation_without_models_chats_with_the_firms_server(qtbot, open_window, workspace,
                                                                  firm):
    configure(workspace, firm)
    workspace.settings.update({**FAST_SETTINGS, "last_model": REMOTE})
    window = open_window()  # the last model used, on the server, is connected again
    assert window.loaded.identity.server == "firm"
    assert window.status.device_label.text() == "server firm"
    assert window.status.offline_label.text() == "● Offline but for the firm's server"
    assert firm.url in window.status.offline_label.toolTip()
    welcome = window.chat_view.welcome_text.text()  # no claim that nothing leaves
    assert "runs the model on this machine and makes no network connections" not in welcome
    assert "inference server (firm)" in welcome
    picker = window.model_picker
    assert [picker.itemText(i) for i in range(picker.count())] == [
        "SmolLM2-135M-Instruct · on the server firm"]

    batches = []
    window.host.worker.textReady.connect(lambda _rid, text: batches.append(text))
    answer = send(qtbot, window, "Name three colours.")
    assert answer.text.strip() and len(batches) >= 2 and "".join(batches) == answer.text
    assert window.chat_view.messages[1].text == answer.text
    finished = [e for e in entries_of(workspace.paths.audit_log) if e["event"] == "inference"][-1]
    assert finished["details"]["server"]["certificate_sha256"] == firm.issued.fingerprint
    assert finished["details"]["outcome"] == "answered"


def test_the_local_model_stays_when_a_server_is_down(qtbot, open_window, workspace,
                                                      stored_model, firm):
    workspace.settings.update(FAST_SETTINGS)
    workspace.servers.add("gone", "https://127.0.0.1:9", pin="0" * 64)
    window = open_window()  # the local model loads; the server's failure does not hold it up
    qtbot.waitUntil(lambda: bool(window.models.remote_models.entries), timeout=ANSWER_TIMEOUT_MS)
    unavailable = window.models.remote_models.entries[0]
    assert not unavailable.usable and "cannot be reached" in unavailable.problem
    failed = [e["details"] for e in entries_of(workspace.paths.audit_log)
              if e["event"] == "inference_server" and e["details"]["action"] == "attempt failed"]
    assert [(f["name"], f["during"]) for f in failed] == [("gone", "listing models")]
    assert window.loaded.identity.server is None
    assert send(qtbot, window, "Say hello.").text.strip()


def test_servers_are_added_and_removed_in_settings(qtbot, workspace, firm):
    from strongroom.ui.settings.servers_page import ServersPage

    page = ServersPage(workspace)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.changed):
        page.add("firm", firm.url, str(firm.ca.pem), "", firm.api_key, 30)
    assert page.list.count() == 1 and "firm" in page.list.item(0).text()
    assert page.workspace.servers.api_key(page.selected()) == firm.api_key

    page.test_server()
    qtbot.waitUntil(lambda: not page.tasks.busy, timeout=ANSWER_TIMEOUT_MS)
    assert firm.issued.fingerprint in page.report.text()
    assert "SmolLM2-135M-Instruct" in page.report.text()

    with qtbot.waitSignal(page.changed):
        page.remove_server()
    assert page.list.count() == 0 and workspace.servers.servers() == []
    actions = [e["details"]["action"] for e in entries_of(workspace.paths.audit_log)
               if e["event"] == "inference_server"]
    assert actions == ["added", "removed"]
    log_text = workspace.paths.audit_log.read_text()
    assert firm.api_key not in log_text


def test_a_server_killed_mid_answer_leaves_the_text_marked_and_said(qtbot, open_window, workspace,
                                                                    tmp_path, demo_store_template):
    ca = make_ca(tmp_path / "ca")
    issued = ca.issue(tmp_path / "tls")
    replicate_tree(demo_store_template, tmp_path / "serve-home" / "data" / "store")
    (tmp_path / "api-key").write_text(API_KEY + "\n")
    served = start_serve(tmp_path / "serve-home", "SmolLM2-135M-Instruct", "127.0.0.1",
                         free_port(), issued.cert, issued.key, tmp_path / "api-key")
    try:
        workspace.servers.add("firm", served.url, ca_pem=read_ca_file(ca.pem), api_key=API_KEY,
                              timeout_s=30)
        workspace.settings.update({**FAST_SETTINGS, "max_tokens": 600, "last_model": REMOTE})
        window = open_window()
        batches = []

        def kill_after_three(_request, _text):
            batches.append(_text)
            if len(batches) == 3:
                os.kill(served.child_pid, signal.SIGKILL)

        window.host.worker.textReady.connect(kill_after_three)
        answer = send(qtbot, window, "Write a long story about a lighthouse keeper, in chapters.")
    finally:
        served.stop()
    assert answer.stats.incomplete and answer.text.strip()
    shown = window.chat_view.messages[-1]
    assert shown.text == answer.text  # the text that came is kept, and stored
    assert window.chats.messages(window.conversation_id)[-1].content == answer.text
    assert "incomplete" in shown.detail.text()
    assert "was lost before the reply was complete" in window.notice.text
    ended = [e for e in entries_of(workspace.paths.audit_log) if e["event"] == "inference"]
    assert ended[-1]["details"]["outcome"] == "incomplete"


def test_passages_for_the_firms_server_are_asked_for_once_per_conversation(
        qtbot, open_window, workspace, firm, folder):
    from PySide6.QtWidgets import QApplication, QMessageBox


    configure(workspace, firm)
    workspace.settings.update({**FAST_SETTINGS, "last_model": REMOTE})
    indexer = workspace.indexer()
    library = indexer.create_library("Casework")
    indexer.add(library, [folder])
    window = open_window()
    window.documents.refresh()
    window.library_picker.setCurrentIndex(1)
    assert window.status.passages_label.isVisible()
    assert window.status.passages_label.text() == \
        "● Passages from “Casework” go to the firm's server firm"

    asked = []

    def answer(button: str):
        def click():
            box = QApplication.activeModalWidget()
            if not isinstance(box, QMessageBox):
                QTimer.singleShot(10, click)
                return
            asked.append(box.text())
            next(b for b in box.buttons() if b.text().replace("&", "") == button).click()
        return click

    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, answer("Don't send"))
    window.input.setPlainText("What is the annual rent of the Harrowgate lease?")
    window.send()
    assert len(asked) == 1 and "from the library “Casework” will be sent to it" in asked[0]
    assert not window.generating and window.input.toPlainText()  # nothing sent, nothing lost
    assert "Not sent" in window.notice.text

    QTimer.singleShot(0, answer("Send them"))
    with qtbot.waitSignal(window.answerCompleted, timeout=ANSWER_TIMEOUT_MS):
        window.send()
    assert len(asked) == 2
    # the same conversation: not asked again
    send(qtbot, window, "What is the annual rent of the Harrowgate lease, in words?")
    assert len(asked) == 2
    window.new_conversation()
    window.library_picker.setCurrentIndex(1)
    QTimer.singleShot(0, answer("Send them"))
    with qtbot.waitSignal(window.answerCompleted, timeout=ANSWER_TIMEOUT_MS):
        window.input.setPlainText("What is the annual rent of the Harrowgate lease?")
        window.send()
    assert len(asked) == 3  # a new conversation asks again
