"""The import wizard's steps, without Qt, on real drives."""

import shutil

import pytest

from strongroom.core.store.import_workflow import ImportWorkflow, Step
from strongroom.core.store.model_store import ModelStore


@pytest.fixture
def wizard(tmp_path):
    return ImportWorkflow(ModelStore(tmp_path / "store"), drive_finder=lambda: [])


def test_the_happy_path(wizard, demo_drive):
    assert wizard.step is Step.CHOOSE_DRIVE and not wizard.can_advance()
    assert wizard.choose_drive(demo_drive) is None
    assert [m.name for m in wizard.offered()] == ["SmolLM2-135M-Instruct"]
    assert wizard.advance() is Step.CHOOSE_MODELS
    assert wizard.selected == ["SmolLM2-135M-Instruct"]
    assert wizard.advance() is Step.VERIFY
    assert not wizard.can_advance()
    seen = []
    report = wizard.run_verify(on_progress=lambda p: seen.append(p.fraction))
    assert report.ok and seen and seen[-1] == 1.0
    assert wizard.advance() is Step.REVIEW
    [item] = wizard.review()
    assert item.model_id == "SmolLM2-135M-Instruct" and item.quantization == "Q4_1"
    assert item.context_length == "8,192 tokens" and item.chat_template == "yes"
    assert item.files == [("SmolLM2-135M-Instruct.Q4_1.gguf", 98362432)]
    assert any("not checked against a model hub" in w for w in item.warnings)
    assert wizard.store.versions() == []  # nothing stored before the Import step
    assert wizard.advance() is Step.IMPORT
    [result] = wizard.run_import()
    assert not result.already_present
    assert wizard.advance() is Step.DONE
    assert [v.name for v in wizard.store.versions()] == ["SmolLM2-135M-Instruct"]


def test_a_folder_without_models_is_refused_on_the_first_step(wizard, tmp_path):
    problem = wizard.choose_drive(tmp_path)
    assert "holds nothing to verify" in problem
    assert wizard.step is Step.CHOOSE_DRIVE and not wizard.can_advance()


def test_a_failed_verification_goes_to_the_failure_step(wizard, demo_drive, tmp_path):
    drive = tmp_path / "drive"
    shutil.copytree(demo_drive, drive)
    model_file = drive / "models" / "SmolLM2-135M-Instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    with open(model_file, "r+b") as handle:
        handle.seek(5_000_000)
        handle.write(b"tampered")
    wizard.choose_drive(drive)
    wizard.advance()
    wizard.advance()
    report = wizard.run_verify()
    assert not report.ok and wizard.step is Step.FAILED
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in wizard.failure
    assert "CHECKSUM MISMATCH" in wizard.failure
    assert [f.path for f in wizard.failed_files] == [
        "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"]
    assert wizard.store.versions() == []
    assert wizard.back() is Step.CHOOSE_MODELS  # the officer can choose again


def test_cancelling_verification_returns_to_choosing(wizard, demo_drive):
    import threading

    from strongroom.core.progress import Cancelled

    wizard.choose_drive(demo_drive)
    wizard.advance()
    wizard.advance()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        wizard.run_verify(cancel=cancel)
    assert wizard.step is Step.VERIFY and not wizard.can_advance()
    assert wizard.back() is Step.CHOOSE_MODELS and wizard.report is None


def test_steps_cannot_be_skipped(wizard, demo_drive):
    with pytest.raises(RuntimeError):
        wizard.advance()
    wizard.choose_drive(demo_drive)
    wizard.advance()
    wizard.choose_models([])
    with pytest.raises(RuntimeError):
        wizard.advance()
    with pytest.raises(KeyError, match="no model called 'other'"):
        wizard.choose_models(["other"])
    wizard.choose_models(["SmolLM2-135M-Instruct"])
    wizard.advance()
    with pytest.raises(RuntimeError):
        wizard.run_import()
