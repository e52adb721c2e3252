"""`strongroom chat`, run as a real subprocess."""

import json

import pytest

from tests.helpers.cli import strongroom


@pytest.mark.model
def test_chat_streams_to_stdout(home, demo_model):
    result = strongroom("chat", "--model", str(demo_model), "--max-tokens", "24", "--seed", "3",
                        "--temperature", "0", "--stats", "Name a colour.", home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    stats = json.loads(next(line for line in result.stderr.splitlines() if line.startswith("{")))
    # the new log's key is not printed where nobody may read it; the last line says where it is
    assert "SRAK-" not in result.stderr
    assert result.stderr.rstrip().endswith("to see it once and take it away.")
    assert 0 < stats["completion_tokens"] <= 24 and stats["prompt_tokens"] > 5
    # llama.cpp's own log lines went to the app log, not the terminal
    assert "llama" not in result.stderr.replace('"', "").lower().replace("tokens", "")
    assert "llama_context" in home.app_log.read_text()



@pytest.mark.model
def test_chat_reads_the_prompt_from_stdin(home, demo_model):
    result = strongroom("chat", "--model", str(demo_model), "--max-tokens", "16", "-",
                        home=home, stdin="Say hi.")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()



@pytest.mark.parametrize("prompt", ["", "   "])
def test_chat_refuses_an_empty_prompt(home, demo_model, prompt):
    result = strongroom("chat", "--model", str(demo_model), prompt, home=home)
    assert result.returncode == 2
    assert "the prompt is empty" in result.stderr and result.stdout == ""



def test_chat_with_a_file_that_is_not_a_model(home, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello, these are my meeting notes")
    result = strongroom("chat", "--model", str(notes), "hi", home=home)
    assert result.returncode == 1
    assert "notes.txt: this is not a GGUF model file" in result.stderr
    missing = strongroom("chat", "--model", str(tmp_path / "gone.gguf"), "hi", home=home)
    assert missing.returncode == 1 and "does not exist" in missing.stderr


@pytest.mark.parametrize("arguments, words", [
    (("--max-tokens", "-5"), "Max answer tokens must be at least 16, not -5"),
    (("--temperature", "hot"), "Temperature must be a number, not 'hot'"),
    (("--context-length", "999999"), "Context length must be at most 262144"),
])
def test_out_of_range_arguments_are_refused_in_words(home, arguments, words):
    result = strongroom("chat", "--model", "anything", *arguments, "Hi", home=home)
    assert result.returncode == 2 and words in result.stderr
