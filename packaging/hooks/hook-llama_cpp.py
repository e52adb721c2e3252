"""PyInstaller has no hook for llama_cpp, which loads its libraries with ctypes from
llama_cpp/lib: collect them there. The unversioned names are what llama_cpp opens; the
.so.0 names are what those libraries ask the dynamic linker for (their SONAMEs). The
fully versioned copies are not needed. Analysing them as binaries brings in libgomp."""

import re
from pathlib import Path

from PyInstaller.utils.hooks import get_package_paths

_, package = get_package_paths("llama_cpp")
binaries = [(str(path), "llama_cpp/lib") for path in sorted(Path(package, "lib").glob("*.so*"))
            if not re.search(r"\.so\.\d+\.\d+", path.name)]
