"""The import wizard window, driven like a security officer would, on real drives."""

import hashlib
import shutil

import pytest
from PySide6.QtCore import Qt

from strongroom.core.transfer.manifests import Entry, json_manifest_text
from strongroom.ui.models.import_wizard import DONE, FAILED, REVIEW, VERIFY, ImportWizardDialog

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
    with qtbot.waitSignal(wizard.imported, timeout=TIMEOUT_MS):
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


def big_drive(folder, size=2 * 1024**3):
    """A drive whose one model is a sparse file of zeros: seconds to hash, no time to write."""
    model = folder / "models" / "big"
    model.mkdir(parents=True)
    with open(model / "weights.bin", "wb") as handle:
        handle.truncate(size)
    digest = hashlib.sha256()
    zeros = bytes(16 * 1024 * 1024)
    for _ in range(size // len(zeros)):
        digest.update(zeros)
    entries = {"weights.bin": Entry("weights.bin", digest.hexdigest(), size)}
    (model / "airgap_manifest.json").write_text(json_manifest_text("big", "local", entries))
    return folder


def test_cancel_during_verification_changes_nothing(qtbot, wizard, tmp_path, workspace):
    wizard.pages[0].choose(big_drive(tmp_path / "drive"))
    wizard.next()
    page = wizard.pages[VERIFY]
    with qtbot.waitSignal(page.taskEnded, timeout=TIMEOUT_MS):
        wizard.next()
        page.tasks.progress.connect(page.cancel)  # cancel at the first progress report
    assert "Cancelled" in page.result.text()
    assert wizard.logic.report is None
    wizard.back()
    assert wizard.logic.step.name == "CHOOSE_MODELS"
    assert workspace.store.versions() == []


def test_a_folder_that_is_not_a_drive(qtbot, wizard, tmp_path):
    wizard.pages[0].choose(tmp_path)
    assert "cannot be imported from" in wizard.pages[0].status.text()
    assert not wizard.button(wizard.WizardButton.NextButton).isEnabled()


def test_a_reference_drive_signed_after_the_fact_imports_with_its_signer(qtbot, workspace,
                                                                          tmp_path, demo_model):
    """The officer signs a drive made by the reference scripts; the wizard's review names
    the signer and labels the drive's statements as the signer's claim."""
    from strongroom.core.transfer.signatures import shown_fingerprint
    from strongroom.core.transfer.signing_drives import sign_verified
    from tests.helpers.officer import PASSPHRASE, officer_key
    from tests.helpers.seed_drives import make_seed_drive

    drive = make_seed_drive(tmp_path / "seed", demo_model)
    private, public, fingerprint = officer_key(tmp_path / "officer")
    sign_verified(drive, private, PASSPHRASE)
    workspace.trust.add(public.read_bytes(), "Alice Officer", str(public), "officer")

    dialog = ImportWizardDialog(workspace.store, trust=workspace.trust.policy())
    dialog.logic._find_drives = lambda: []
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.pages[0].choose(drive)
    dialog.next()
    with qtbot.waitSignal(dialog.pages[VERIFY].taskEnded, timeout=TIMEOUT_MS):
        dialog.next()
    dialog.next()
    assert dialog.currentId() == REVIEW
    review = dialog.pages[REVIEW].text.toPlainText()
    assert review.count(f"Signed by Alice Officer ({shown_fingerprint(fingerprint)})") == 2
    assert "(the signer's claim)" in review
    with qtbot.waitSignal(dialog.imported, timeout=TIMEOUT_MS):
        with qtbot.waitSignal(dialog.pages[4].taskEnded, timeout=TIMEOUT_MS):
            dialog.next()
        dialog.next()
        dialog.accept()
    stored = workspace.store.versions()
    assert len(stored) == 2
    assert {v.provenance["signature"]["signer"] for v in stored} == {"Alice Officer"}
    dialog.close()


def test_an_unsigned_drive_fails_in_the_wizard_under_the_policy(qtbot, workspace, tmp_path,
                                                                demo_drive):
    from tests.helpers.officer import officer_key

    _, public, _ = officer_key(tmp_path / "officer")
    workspace.trust.add(public.read_bytes(), "Alice Officer", str(public), "officer")
    dialog = ImportWizardDialog(workspace.store, trust=workspace.trust.policy())
    dialog.logic._find_drives = lambda: []
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.pages[0].choose(demo_drive)
    dialog.next()
    with qtbot.waitSignal(dialog.pages[VERIFY].taskEnded, timeout=TIMEOUT_MS):
        dialog.next()
    qtbot.waitUntil(lambda: dialog.currentId() == FAILED, timeout=10_000)
    assert "is not signed" in dialog.pages[FAILED].message.text()
    assert workspace.store.versions() == []
    dialog.close()


def test_the_keyboard_alone_goes_from_drive_to_done_and_never_back(qtbot, wizard, demo_drive,
                                                                    workspace):
    wizard.pages[0].choose(demo_drive)
    qtbot.keyClick(wizard, Qt.Key.Key_Return)  # → the models
    with qtbot.waitSignal(wizard.pages[VERIFY].taskEnded, timeout=TIMEOUT_MS):
        qtbot.keyClick(wizard, Qt.Key.Key_Return)  # → verifying
    qtbot.keyClick(wizard, Qt.Key.Key_Return)  # → the review
    assert wizard.currentId() == REVIEW
    assert wizard.button(wizard.WizardButton.CommitButton).text() == "Import"
    with qtbot.waitSignal(wizard.imported, timeout=TIMEOUT_MS):
        qtbot.keyClick(wizard, Qt.Key.Key_Return)  # → importing, then Done by itself
        qtbot.waitUntil(lambda: wizard.currentId() == DONE, timeout=TIMEOUT_MS)
        assert not wizard.button(wizard.WizardButton.BackButton).isVisible()
        qtbot.keyClick(wizard, Qt.Key.Key_Return)  # Finish
        assert not wizard.isVisible() and wizard.result() == wizard.DialogCode.Accepted
    assert [v.name for v in workspace.store.versions()] == ["SmolLM2-135M-Instruct"]
