"""The IDX header check: an MNIST file that is not one, or is cut short, is named with
what is wrong with it, before it is read (data.idx_read) or mapped (data.idx_mmap)."""

from __future__ import annotations

import math
from pathlib import Path

from mnist_rules.errors import DataError

# IDX magic numbers: 0x0000 0x08 (unsigned bytes), then the number of dimensions.
IDX_UBYTE_MAGIC = {3: 0x00000803, 1: 0x00000801}


def check_idx_header(path: Path) -> tuple[int, ...]:
    """Check an MNIST IDX file's magic number and length against its header, so that a
    bad file is named with what is wrong with it (torchvision's parser asserts, or
    fails to reshape, without saying which file or why). Returns the dimensions the
    header gives."""
    ndim = 3 if "images" in path.name else 1
    kind = "image" if ndim == 3 else "label"
    expected = IDX_UBYTE_MAGIC[ndim]
    fix = "Replace it with the original file, or delete the four files to download fresh copies."
    size = path.stat().st_size
    header_size = 4 + 4 * ndim
    with open(path, "rb") as f:
        header = f.read(header_size)
    magic = int.from_bytes(header[:4], "big") if len(header) >= 4 else None
    if magic != expected:
        found = f"0x{magic:08x}" if magic is not None else f"only {size} bytes"
        raise DataError(
            f"{path.name} in {path.parent} is not an MNIST {kind} file: an IDX {kind} file"
            f" starts with the magic number 0x{expected:08x}, and this one has {found}. {fix}"
        )
    if size < header_size:
        raise DataError(
            f"{path.name} in {path.parent} ends inside its header ({size} bytes). {fix}"
        )
    dims = [int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    needed = header_size + math.prod(dims)
    if size != needed:
        state = "truncated" if size < needed else "longer than its header says"
        raise DataError(
            f"{path.name} in {path.parent} is {state}: its header gives"
            f" {' x '.join(map(str, dims))} bytes of data ({needed:,} bytes with the header),"
            f" but the file has {size:,}. {fix}"
        )
    return tuple(dims)
