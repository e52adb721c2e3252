"""Small GGUF files for tests, written with the `gguf` package, and precise ways to break them.

The corruptions target the header fields behind llama.cpp's GGUF CVEs: tensor and
metadata counts, string lengths, array sizes, tensor dimensions and data offsets.
"""

from __future__ import annotations

import struct
from pathlib import Path

import gguf
import numpy as np

TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"


def write_small_gguf(path: Path, context_length: int = 512, template: str = TEMPLATE) -> Path:
    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_context_length(context_length)
    writer.add_block_count(1)
    writer.add_chat_template(template)
    writer.add_array("tokenizer.ggml.tokens", ["a", "b", "c"])
    writer.add_tensor("tok_embd.weight", np.ones((4, 32), dtype=np.float32))
    writer.add_tensor("output.weight", np.ones((3, 32), dtype=np.float16))  # one row per token
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _part_offset(field, part_index: int) -> int:
    return field.offset + sum(part.nbytes for part in field.parts[:part_index])


def _patch(path: Path, offset: int, fmt: str, value) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(struct.pack(fmt, value))


# Each corruption takes a good file and breaks one field in place.

def huge_tensor_count(path: Path) -> None:
    _patch(path, 8, "<Q", 2**62)


def huge_kv_count(path: Path) -> None:
    _patch(path, 16, "<Q", 2**62)


def huge_key_length(path: Path) -> None:
    field = gguf.GGUFReader(str(path)).fields["general.architecture"]
    _patch(path, _part_offset(field, 0), "<Q", 2**63)


def huge_string_value_length(path: Path) -> None:
    field = gguf.GGUFReader(str(path)).fields["tokenizer.chat_template"]
    _patch(path, _part_offset(field, 3), "<Q", 2**40)


def huge_array_count(path: Path) -> None:
    field = gguf.GGUFReader(str(path)).fields["tokenizer.ggml.tokens"]
    _patch(path, _part_offset(field, 4), "<Q", 2**61)


def too_many_dimensions(path: Path) -> None:
    tensor = gguf.GGUFReader(str(path)).tensors[0]
    _patch(path, _part_offset(tensor.field, 2), "<I", 1000)


def overflowing_dimensions(path: Path) -> None:
    tensor = gguf.GGUFReader(str(path)).tensors[0]
    _patch(path, _part_offset(tensor.field, 3), "<Q", 2**63 - 1)


def tensor_offset_past_end(path: Path) -> None:
    tensor = gguf.GGUFReader(str(path)).tensors[1]
    _patch(path, _part_offset(tensor.field, 5), "<Q", 2**40)


def unknown_tensor_type(path: Path) -> None:
    tensor = gguf.GGUFReader(str(path)).tensors[0]
    _patch(path, _part_offset(tensor.field, 4), "<I", 999)


def truncate_data(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size - 64)


CORRUPTIONS = {
    "tensor count": (huge_tensor_count, "tensors, more than"),
    "metadata count": (huge_kv_count, "metadata entries"),
    "key length": (huge_key_length, "the file ends inside"),
    "string length": (huge_string_value_length, "the file ends inside"),
    "array size": (huge_array_count, "items of tokenizer.ggml.tokens"),
    "dimension count": (too_many_dimensions, "dimensions"),
    "tensor dimensions": (overflowing_dimensions, "impossible dimensions"),
    "tensor offset": (tensor_offset_past_end, "truncated"),
    "tensor type": (unknown_tensor_type, "unknown type"),
    "truncated data": (truncate_data, "truncated"),
}


# -- absurd but well-formed headers ---------------------------------------------------------------

def write_attention_gguf(path: Path, metadata: dict | None = None, tokens: int = 8,
                         vocabulary_rows: int = 8, token_types: int | None = None,
                         heads: object = 4, kv_heads: object = 2) -> Path:
    """A well-formed small llama-like file with attention weights; ``metadata`` adds or
    replaces settings ({key: (value, gguf.GGUFValueType)} or {key: value} for strings)."""
    writer = gguf.GGUFWriter(str(path), arch="llama")
    settings = {
        "llama.context_length": (512, gguf.GGUFValueType.UINT32),
        "llama.block_count": (1, gguf.GGUFValueType.UINT32),
        "llama.embedding_length": (8, gguf.GGUFValueType.UINT32),
        "llama.attention.head_count": (heads, gguf.GGUFValueType.UINT32),
        "llama.attention.head_count_kv": (kv_heads, gguf.GGUFValueType.UINT32),
        **(metadata or {}),
    }
    for key, setting in settings.items():
        value, kind = setting if isinstance(setting, tuple) else (setting, gguf.GGUFValueType.STRING)
        if kind is gguf.GGUFValueType.ARRAY:
            writer.add_key_value(key, value, kind, sub_type=gguf.GGUFValueType.UINT32)
        elif value is not None:
            writer.add_key_value(key, value, kind)
    writer.add_array("tokenizer.ggml.tokens", [f"t{i}" for i in range(tokens)])
    writer.add_array("tokenizer.ggml.token_type", [1] * (tokens if token_types is None else token_types))
    writer.add_tensor("token_embd.weight", np.ones((vocabulary_rows, 8), dtype=np.float32))
    writer.add_tensor("blk.0.attn_q.weight", np.ones((8, 8), dtype=np.float32))
    writer.add_tensor("blk.0.attn_k.weight", np.ones((8, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def rename_in_header(path: Path, old: bytes, new: bytes) -> None:
    """Replace a metadata key or tensor name with another of the same length (to make two
    entries share a name, which the writer itself refuses to do)."""
    assert len(old) == len(new)
    data = path.read_bytes()
    assert data.count(old) == 1, old
    path.write_bytes(data.replace(old, new))


def with_chat_template(source: Path, target: Path, template: str) -> Path:
    """A copy of the GGUF ``source`` whose chat template is ``template``: the header is
    rewritten around the new string and the tensor data kept, realigned."""
    from strongroom.core.inference.gguf_header import DEFAULT_ALIGNMENT, read_gguf_info

    info = read_gguf_info(source)
    data = source.read_bytes()
    key = b"tokenizer.chat_template"
    key_at = data.index(struct.pack("<Q", len(key)) + key)
    length_at = key_at + 8 + len(key) + 4  # the key, then its value type
    (old_length,) = struct.unpack_from("<Q", data, length_at)
    value_end = length_at + 8 + old_length
    encoded = template.encode()
    header = data[:length_at] + struct.pack("<Q", len(encoded)) + encoded
    header += data[value_end:_end_of_tensor_infos(info, data)]
    alignment = info.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    header += b"\0" * (-len(header) % alignment)
    target.write_bytes(header + data[info.data_start:])
    return target


def _end_of_tensor_infos(info, data: bytes) -> int:
    """Where the last tensor's description ends (before the padding to the data): each
    is the name, the dimension count, the dimensions, the type and the offset."""
    ends = []
    for name, shape in info.tensor_shapes.items():
        encoded = name.encode()
        at = data.rindex(struct.pack("<Q", len(encoded)) + encoded, 0, info.data_start)
        ends.append(at + 8 + len(encoded) + 4 + 8 * len(shape) + 4 + 8)
    return max(ends)
