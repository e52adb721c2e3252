"""Checking a GGUF file's structure in a separate process, before llama.cpp ever opens it.

llama.cpp's GGUF parser has had memory-safety bugs triggered by hostile headers
(overflowing tensor and metadata counts, string lengths, array sizes, tensor dimensions and
offsets). A model is accepted into the store only after its header has been parsed here,
in a child process with limits on memory and CPU time, twice over: by Strongroom's own
bounds-checked reader (which refuses impossible counts before allocating anything, and
settings no real model has) and by the `gguf` package's reader, whose view of every tensor
is then checked to lie inside the file. The model's chat template must then render sample
conversations within a small budget of time and memory. A crash or a limit hit in the
child refuses the file; it cannot harm the app.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from strongroom.core.inference.gguf_header import GGUFError, read_gguf_info
from strongroom.core.inference.template_sandbox import check_template
from strongroom.core.isolated import run_isolated

TIMEOUT_S = 600
CHILD_COMMAND = "_check-gguf"  # `strongroom _check-gguf FILE`: the child process's entry


@dataclass(frozen=True)
class GGUFCheck:
    ok: bool
    problem: str | None = None
    architecture: str | None = None
    parameter_count: int | None = None
    quantization: str | None = None
    context_length: int | None = None
    has_chat_template: bool | None = None
    tensor_count: int | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def check_gguf(path: Path, timeout: float = TIMEOUT_S) -> GGUFCheck:
    """Check ``path`` in a child process; never raises for a bad file."""
    size = os.path.getsize(path)
    try:
        # The gguf reader maps the whole file; the path is absolute (the child runs in "/").
        result = run_isolated([CHILD_COMMAND, str(Path(path).resolve())], timeout=timeout,
                              memory_bytes=size + 4 * 1024**3, cpu_seconds=int(timeout))
    except subprocess.TimeoutExpired:
        return GGUFCheck(False, f"{path.name}: checking its header took longer than {timeout:.0f} s; "
                                "a valid model's header is read in seconds")
    try:
        return GGUFCheck(**json.loads(result.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError, TypeError):
        how = (f"was killed by signal {-result.returncode}" if result.returncode < 0
               else f"failed (exit status {result.returncode})")
        return GGUFCheck(False, f"{path.name}: the header check {how}; the file is malformed "
                                "or hostile")


def _check_here(path: Path) -> GGUFCheck:
    try:
        info = read_gguf_info(path)
    except GGUFError as error:
        return GGUFCheck(False, str(error))
    try:
        import gguf

        reader = gguf.GGUFReader(str(path))
    except Exception as error:  # the library's own refusal, whatever its type
        return GGUFCheck(False, f"{path.name}: the gguf reader refused the header ({error})")
    size = os.path.getsize(path)
    if len(reader.tensors) != info.tensor_count:
        return GGUFCheck(False, f"{path.name}: the header claims {info.tensor_count} tensors but "
                                f"{len(reader.tensors)} were read")
    for tensor in reader.tensors:
        elements = 1
        for dim in tensor.shape:
            elements *= int(dim)
        if elements != int(tensor.n_elements):
            return GGUFCheck(False, f"{path.name}: tensor {tensor.name!r} has inconsistent dimensions")
        if tensor.data_offset + tensor.n_bytes > size:
            return GGUFCheck(False, f"{path.name}: tensor {tensor.name!r} lies past the end of the file")
    if info.chat_template is not None:
        problem = check_template(info.chat_template)
        if problem:
            return GGUFCheck(False, f"{path.name}: {problem}. The model file's chat template is "
                                    "faulty or hostile, so the model is not accepted.")
    return GGUFCheck(True, None, info.architecture, info.parameter_count, info.quantization,
                     info.context_length, info.chat_template is not None, info.tensor_count)


def main(argv: list[str]) -> int:
    """Entry point of the child process: prints one JSON line."""
    print(json.dumps(_check_here(Path(argv[0])).as_dict()))
    return 0
