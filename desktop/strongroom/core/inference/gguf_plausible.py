"""Whether a structurally valid GGUF header describes a model that can exist.

The header reader proves that every count and offset fits in the file. A hostile file can
still pass that and carry settings llama.cpp divides by, indexes with or sizes buffers
from: a context of zero tokens, zero attention heads in a model with attention weights,
a vocabulary whose token list is shorter than its embedding table. Each rule here refuses
one such setting before llama.cpp reads the file. A rule applies only when the header
carries the setting: models without attention (Mamba, RWKV) have no heads, and say so.
"""

from __future__ import annotations

from typing import Protocol

MAX_CONTEXT = 2**31 - 1
MAX_BLOCKS = 4096
_ATTENTION_TENSORS = (".attn_q.", ".attn_qkv.", ".attn_k.", ".attn_q_a.", ".attn_kv_a_mqa.")


class GGUFHeader(Protocol):
    """What the rules read: `gguf_header.GGUFInfo` is one (imported here, it would make a
    cycle: the header reader calls these rules)."""

    metadata: dict[str, object]
    array_lengths: dict[str, int]
    tensor_shapes: dict[str, tuple[int, ...]]

    @property
    def architecture(self) -> str: ...


def implausibility(info: GGUFHeader) -> str | None:
    """What makes the model ``info`` describes impossible, or None when nothing does."""
    arch = info.architecture
    for rule in (_context, _blocks, _embedding, _heads, _vocabulary):
        problem = rule(info, arch)
        if problem:
            return problem
    return None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _setting(info: GGUFHeader, key: str, low: int, high: int, what: str) -> str | None:
    value = info.metadata.get(key)
    if value is None or key not in info.metadata:
        return None
    if not _is_count(value):
        return f"the header gives {key} as {value!r}, which is not a whole number of {what}"
    if not low <= value <= high:
        return f"the header says {key} is {value:,}; a model has {low:,} to {high:,} {what}"
    return None


def _context(info: GGUFHeader, arch: str) -> str | None:
    return _setting(info, f"{arch}.context_length", 1, MAX_CONTEXT, "tokens of context")


def _blocks(info: GGUFHeader, arch: str) -> str | None:
    return _setting(info, f"{arch}.block_count", 1, MAX_BLOCKS, "layers")


def _embedding(info: GGUFHeader, arch: str) -> str | None:
    return _setting(info, f"{arch}.embedding_length", 1, 2**20, "embedding values")


def _has_attention(info: GGUFHeader) -> bool:
    return any(marker in name for name in info.tensor_shapes for marker in _ATTENTION_TENSORS)


def _heads(info: GGUFHeader, arch: str) -> str | None:
    heads_key, kv_key = f"{arch}.attention.head_count", f"{arch}.attention.head_count_kv"
    heads = info.metadata.get(heads_key)
    kv_heads = info.metadata.get(kv_key)
    attention = _has_attention(info)
    if isinstance(heads, list):  # one count per layer: layers without attention have 0
        if attention and not any(_is_count(h) and h > 0 for h in heads):
            return f"the header says every layer has 0 attention heads ({heads_key}), " \
                   "but the file holds attention weights"
        return None
    if heads is None or not _is_count(heads):
        return None if heads is None else f"the header gives {heads_key} as {heads!r}"
    if heads < 0 or (heads == 0 and attention):
        return f"the header says {heads_key} is {heads}, but the file holds attention weights"
    if heads == 0:
        return None
    if _is_count(kv_heads) and not (1 <= kv_heads <= heads and heads % kv_heads == 0):
        return (f"the header says {kv_key} is {kv_heads} for {heads} attention heads; it must be "
                "at least 1, at most the head count, and divide it")
    embedding = info.metadata.get(f"{arch}.embedding_length")
    if _is_count(embedding) and f"{arch}.attention.key_length" not in info.metadata \
            and embedding % heads:
        return (f"the header says {arch}.embedding_length is {embedding:,}, which does not "
                f"divide into {heads} attention heads")
    return None


def _vocabulary(info: GGUFHeader, arch: str) -> str | None:
    lengths = info.array_lengths
    tokens = lengths.get("tokenizer.ggml.tokens")
    if tokens is None:
        return None
    if tokens == 0:
        return "the header's token list (tokenizer.ggml.tokens) is empty"
    for key in ("tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
        if key in lengths and lengths[key] != tokens:
            return (f"the header lists {tokens:,} tokens but {lengths[key]:,} entries in {key}; "
                    "there is one per token")
    for tensor in ("token_embd.weight", "output.weight"):
        shape = info.tensor_shapes.get(tensor)
        if shape is not None and len(shape) == 2 and shape[1] != tokens:
            return (f"the header lists {tokens:,} tokens but the tensor {tensor} holds "
                    f"{shape[1]:,}; a token the list lacks would be read from outside it")
    return None
