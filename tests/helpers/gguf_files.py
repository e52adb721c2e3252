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


def write_small_gguf(path: Path, context_length: int = 512) -> Path:
    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_context_length(context_length)
    writer.add_block_count(1)
    writer.add_chat_template(TEMPLATE)
    writer.add_array("tokenizer.ggml.tokens", ["a", "b", "c"])
    writer.add_tensor("tok_embd.weight", np.ones((4, 32), dtype=np.float32))
    writer.add_tensor("output.weight", np.ones((2, 32), dtype=np.float16))
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
