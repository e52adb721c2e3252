import pytest

from strongroom.core.inference.gguf_header import GGUFError, read_gguf_info
from tests.helpers.gguf_files import CORRUPTIONS, TEMPLATE, write_small_gguf


def test_reads_the_demo_model(demo_model):
    info = read_gguf_info(demo_model)
    assert info.architecture == "llama"
    assert info.quantization == "Q4_1"
    assert info.context_length == 8192
    assert 130e6 < info.parameter_count < 140e6
    assert "<|im_start|>" in info.chat_template
    assert info.block_count == 30
    assert info.kv_cache_bytes(4096) > 0


def test_reads_a_written_file(tmp_path):
    info = read_gguf_info(write_small_gguf(tmp_path / "small.gguf", context_length=777))
    assert info.context_length == 777
    assert info.chat_template == TEMPLATE
    assert info.tensor_count == 2
    assert info.parameter_count == 4 * 32 + 3 * 32
    assert info.metadata["tokenizer.ggml.tokens"] == ["a", "b", "c"]


@pytest.mark.parametrize("content, message", [
    (b"", "only 0 bytes long"),
    (b"PK\x03\x04" + b"\0" * 100, "this is not a GGUF model file"),
    (b"GGUF" + (1).to_bytes(4, "little") + b"\0" * 40, "GGUF version 1 is not supported"),
])
def test_not_gguf(tmp_path, content, message):
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(GGUFError, match=message):
        read_gguf_info(path)


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_hostile_headers_are_refused_with_a_reason(tmp_path, name):
    corrupt, message = CORRUPTIONS[name]
    path = write_small_gguf(tmp_path / f"{name.replace(' ', '_')}.gguf")
    corrupt(path)
    with pytest.raises(GGUFError, match=message) as caught:
        read_gguf_info(path)
    assert path.name in str(caught.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(GGUFError, match="does not exist"):
        read_gguf_info(tmp_path / "nothing.gguf")
    with pytest.raises(GGUFError, match="folder"):
        read_gguf_info(tmp_path)
