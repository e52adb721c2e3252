"""The import wizard window, driven like a security officer would, on real drives."""

import shutil

import pytest

from strongroom.ui.import_wizard import DONE, FAILED, REVIEW, VERIFY, ImportWizardDialog

TIMEOUT_MS = 120_000


@pytest.fixture
def wizard(qtbot, workspace):
    dialog = ImportWizardDialog(workspace.store)
    dialog.logic._find_drives = lambda: []
    qtbot.addWidget(dialog)
    dialog.show()
    yield dialog
    dialog.close()


def test_import_through_every_page(qtbot, wizard, demo_drive, workspace):
    wizard.pages[0].choose(demo_drive)
    assert "offers 1 model(s)" in wizard.pages[0].status.text()
    wizard.next()
    models = wizard.pages[1].list
    assert models.count() == 1 and "SmolLM2-135M-Instruct" in models.item(0).text()
    with qtbot.waitSignal(wizard.pages[VERIFY].taskEnded, timeout=TIMEOUT_MS):
        wizard.next()
    assert "Verified" in wizard.pages[VERIFY].result.text()
    assert wizard.button(wizard.WizardButton.NextButton).isEnabled()
    wizard.next()
    assert wizard.currentId() == REVIEW
    review = wizard.pages[REVIEW].text.toPlainText()
    assert "Q4_1" in review and "8,192 tokens" in review and "not checked against a model hub" in review
    assert workspace.store.versions() == []
    with qtbot.waitSignal(wizard.imported, timeout=TIMEOUT_MS, raising=False):
        with qtbot.waitSignal(wizard.pages[4].taskEnded, timeout=TIMEOUT_MS):
            wizard.next()
        wizard.next()
        assert wizard.currentId() == DONE
        assert "is now in the store" in wizard.pages[DONE].summary.text()
        wizard.accept()
    assert [v.name for v in workspace.store.versions()] == ["SmolLM2-135M-Instruct"]


def test_a_tampered_drive_ends_on_the_failure_page(qtbot, wizard, demo_drive, tmp_path, workspace):
    drive = tmp_path / "drive"
    shutil.copytree(demo_drive, drive)
    (drive / "models" / "SmolLM2-135M-Instruct" / "extra.bin").write_bytes(b"smuggled")
    wizard.pages[0].choose(drive)
    wizard.next()
    with qtbot.waitSignal(wizard.pages[VERIFY].taskEnded, timeout=TIMEOUT_MS):
        wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == FAILED, timeout=10_000)
    failure = wizard.pages[FAILED]
    assert "models/SmolLM2-135M-Instruct/extra.bin" in failure.message.text()
    assert failure.files.item(0).text().startswith("EXTRA")
    assert workspace.store.versions() == []


def test_cancel_during_verification_changes_nothing(qtbot, wizard, demo_drive, workspace):
    wizard.pages[0].choose(demo_drive)
    wizard.next()
    page = wizard.pages[VERIFY]
    with qtbot.waitSignal(page.taskEnded, timeout=TIMEOUT_MS):
        wizard.next()
        page.cancel()
    # Either the cancel arrived in time, or verification had already finished.
    assert "Cancelled" in page.result.text() or "Verified" in page.result.text()
    wizard.back()
    assert wizard.logic.step.name == "CHOOSE_MODELS"
    assert workspace.store.versions() == []


def test_a_folder_that_is_not_a_drive(qtbot, wizard, tmp_path):
    wizard.pages[0].choose(tmp_path)
    assert "cannot be imported from" in wizard.pages[0].status.text()
    assert not wizard.button(wizard.WizardButton.NextButton).isEnabled()
