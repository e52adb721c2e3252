"""Well-formed GGUF headers that describe impossible models are refused before llama.cpp
reads them, with a message naming the setting."""

import gguf
import pytest

from strongroom.core.inference.gguf_header import GGUFError, read_gguf_info
from tests.helpers.gguf_files import rename_in_header, write_attention_gguf

U32, I32, STR = gguf.GGUFValueType.UINT32, gguf.GGUFValueType.INT32, gguf.GGUFValueType.STRING

ABSURD = {
    "context of zero tokens": (dict(metadata={"llama.context_length": (0, U32)}),
                               "llama.context_length is 0"),
    "negative context": (dict(metadata={"llama.context_length": (-4096, I32)}),
                         "llama.context_length is -4,096"),
    "context as text": (dict(metadata={"llama.context_length": ("4096", STR)}),
                        "not a whole number"),
    "zero layers": (dict(metadata={"llama.block_count": (0, U32)}), "llama.block_count is 0"),
    "zero heads with attention weights": (dict(heads=0), "head_count is 0"),
    "zero key-value heads": (dict(kv_heads=0), "head_count_kv is 0"),
    "more key-value heads than heads": (dict(kv_heads=8), "head_count_kv is 8 for 4"),
    "heads that do not divide the embedding": (dict(heads=3, kv_heads=1), "does not divide"),
    "every layer without heads": (dict(metadata={"llama.attention.head_count": (
        [0], gguf.GGUFValueType.ARRAY)}), "every layer has 0 attention heads"),
    "token list shorter than the embedding": (dict(tokens=6), "6 tokens but the tensor token_embd"),
    "token list longer than the embedding": (dict(vocabulary_rows=4), "holds 4"),
    "token types not one per token": (dict(token_types=5), "5 entries in tokenizer.ggml.token_type"),
}


def test_a_plausible_file_is_read(tmp_path):
    info = read_gguf_info(write_attention_gguf(tmp_path / "fine.gguf"))
    assert info.context_length == 512
    assert info.array_lengths["tokenizer.ggml.tokens"] == 8
    assert info.tensor_shapes["token_embd.weight"] == (8, 8)


@pytest.mark.parametrize("name", sorted(ABSURD))
def test_an_absurd_setting_is_refused(tmp_path, name):
    arguments, message = ABSURD[name]
    path = write_attention_gguf(tmp_path / "absurd.gguf", **arguments)
    with pytest.raises(GGUFError) as refused:
        read_gguf_info(path)
    assert message in str(refused.value)
    assert str(refused.value).startswith("absurd.gguf: ")


def test_a_model_without_attention_may_have_no_heads(tmp_path):
    """Mamba and RWKV files say head_count 0 and carry no attention weights."""
    path = tmp_path / "mamba.gguf"
    writer = gguf.GGUFWriter(str(path), arch="mamba")
    writer.add_context_length(1024)
    writer.add_block_count(1)
    writer.add_head_count(0)
    writer.add_tensor("blk.0.ssm_in.weight", gguf.np.ones((8, 8), dtype=gguf.np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert read_gguf_info(path).arch_value("attention.head_count") == 0


def test_a_setting_named_twice_is_refused(tmp_path):
    path = write_attention_gguf(tmp_path / "twice.gguf", metadata={
        "general.aaaa": "first", "general.bbbb": "second"})
    rename_in_header(path, b"general.bbbb", b"general.aaaa")
    with pytest.raises(GGUFError, match="'general.aaaa' appears twice"):
        read_gguf_info(path)


def test_a_tensor_named_twice_is_refused(tmp_path):
    path = write_attention_gguf(tmp_path / "twice.gguf")
    rename_in_header(path, b"blk.0.attn_k.weight", b"blk.0.attn_q.weight")
    with pytest.raises(GGUFError, match="'blk.0.attn_q.weight' appears twice"):
        read_gguf_info(path)
