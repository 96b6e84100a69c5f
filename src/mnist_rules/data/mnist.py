"""MNIST-format data sets: where they live, read from their IDX files.

The four files are read here (data.idx_read), straight into tensors, as torchvision's
MNIST would hold them; torchvision only downloads them when they are missing (importing
it costs about 1.3 s, more than the rest of a tiny run's start-up: docs/engines.md,
"Start-up"). This module decides where the files live, turns every way of not getting
them into one clear error, and applies --train-subset. An item's pixels come out in
[0, 1] (ToTensor's arithmetic), with no normalisation: that is the reference setup.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_rules.atomic import atomic_path
from mnist_rules.cache_dir import user_cache_dir
from mnist_rules.data.idx_header import check_idx_header
from mnist_rules.errors import DataError, UsageError

if TYPE_CHECKING:
    import torch

DATA_DIR_ENV = "MNIST_RULES_DATA"


class DatasetName(str, Enum):
    mnist = "mnist"
    fashion_mnist = "fashion-mnist"
    kmnist = "kmnist"


# The torchvision class for each name (it downloads the files, and names their folder);
# all three share MNIST's IDX layout, sizes and file names.
_TORCHVISION_CLASS = {
    DatasetName.mnist: "MNIST",
    DatasetName.fashion_mnist: "FashionMNIST",
    DatasetName.kmnist: "KMNIST",
}
# The four files, in torchvision's order; it downloads each as <name>.gz.
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def resolve_data_dir(cli_value: Path | None) -> Path:
    """--data-dir, else $MNIST_RULES_DATA, else the per-user cache directory."""
    if cli_value is not None:
        return cli_value.expanduser()
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    cache = user_cache_dir()
    if cache is None:
        raise UsageError(
            "No --data-dir was given, and there is no per-user cache directory to keep"
            f" MNIST in (no home directory). Pass --data-dir, or set ${DATA_DIR_ENV}."
        )
    return cache


class MnistSplit:
    """One split (training or test) read whole: what the engines use of torchvision's
    MNIST, the same tensors (`data`: uint8 (N, 28, 28), `targets`: int64 (N,)), `train`,
    len(), and items as its items with ToTensor(): (1x28x28 float32 tensor,
    float(u8) / 255, int label)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, train: bool):
        self.data, self.targets, self.train = images, labels, train

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.data[index].unsqueeze(0).float().div_(255), int(self.targets[index])


@dataclass
class MnistData:
    """The training and test sets (MnistSplit, or StreamedTrainSet for stream mode's
    training set). `train_size` is the number of leading training images in use
    (--train-subset); the test set is always used whole."""

    name: DatasetName
    raw_folder: Path
    train: MnistSplit | StreamedTrainSet
    test: MnistSplit
    train_size: int

    def with_train_size(self, train_size: int) -> MnistData:
        """The same sets, training on the first `train_size` images (--train-subset)."""
        if not 1 <= train_size <= len(self.train):
            raise UsageError(
                f"--train-subset must be between 1 and {len(self.train)} (the size of the"
                f" {self.name.value} training set); got {train_size}."
            )
        return dataclasses.replace(self, train_size=train_size)

    @property
    def train_images(self) -> torch.Tensor:
        """The training images in use, as one uint8 tensor (N, 28, 28)."""
        return self.train.data[: self.train_size]


def train_images_file(dataset: DatasetName, root: Path) -> Path:
    """Where the training images' IDX file is (or will be, once downloaded)."""
    return root / _TORCHVISION_CLASS[dataset] / "raw" / "train-images-idx3-ubyte"


def expected_files(dataset: DatasetName) -> list[str]:
    return list(FILES)


def load(
    dataset: DatasetName, root: Path, train_subset: int | None = None, stream: bool = False
) -> MnistData:
    """Load (downloading if needed) `dataset` under `root`/<Class>/raw/. `stream`: map
    the training images instead of reading them (StreamedTrainSet, stream mode)."""
    raw_folder = root / _TORCHVISION_CLASS[dataset] / "raw"
    files = [raw_folder / name for name in expected_files(dataset)]
    _extract_copied_archives(raw_folder)
    if not all(f.is_file() for f in files):  # torchvision downloads them, or we say why not
        _download(dataset, root, raw_folder)
    for f in files:
        check_idx_header(f)
    test = _read(raw_folder, dataset, train=False)
    train = StreamedTrainSet(raw_folder) if stream else _read(raw_folder, dataset, train=True)
    data = MnistData(dataset, raw_folder, train, test, len(train))
    return data if train_subset is None else data.with_train_size(train_subset)


class StreamedTrainSet:
    """The training set of stream mode: images memory-mapped (never read whole), labels
    read (one byte each). Duck-types what the engines use of a torchvision MNIST."""

    def __init__(self, raw_folder: Path):
        from mnist_rules.data.idx_mmap import MappedIdx

        self.mapped = MappedIdx(raw_folder / "train-images-idx3-ubyte")
        labels = MappedIdx(raw_folder / "train-labels-idx1-ubyte")
        self.data = self.mapped.data
        self.targets = labels.data.long()  # a copy: 8 bytes a label, as torchvision's
        if len(self.targets) != len(self.data):
            raise _count_mismatch(f"The training set in {raw_folder}", self.data, self.targets)

    def __len__(self) -> int:
        return len(self.data)


def _extract_copied_archives(raw_folder: Path) -> None:
    """A copied download: the .gz files torchvision fetches, but not the IDX files it
    extracts from them. Extract them here (torchvision would go to the network first),
    each file whole or not at all; the IDX check that follows judges what came out (a
    recompressed file is welcome: its MD5 differs from torchvision's, its content not)."""
    import gzip
    import shutil
    import zlib

    for name in FILES:
        archive, target = raw_folder / f"{name}.gz", raw_folder / name
        if target.is_file() or not archive.is_file():
            continue
        try:
            with atomic_path(target) as tmp, gzip.open(archive) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise DataError(
                f"{archive.name} in {raw_folder} cannot be decompressed ({exc}): it may be"
                " truncated. Replace it, or delete it to download a fresh copy."
            ) from None
        except OSError as exc:  # reading the archive, or writing beside it
            raise DataError(
                f"{archive.name} in {raw_folder} could not be extracted there"
                f" ({exc.strerror or exc}). Extract it yourself, or give --data-dir a"
                " directory you can write to."
            ) from None


def _download(dataset: DatasetName, root: Path, raw_folder: Path) -> None:
    """Download the four files through torchvision (imported only here), or say why not."""
    from torchvision import datasets

    cls = getattr(datasets, _TORCHVISION_CLASS[dataset])
    # Every folder the download may make, from the first missing ancestor of --data-dir
    # down (torchvision makes them all, as mkdir -p does).
    created = [d for d in (*reversed(raw_folder.parents), raw_folder) if not d.exists()]
    try:  # it downloads all four, then reads the test set (read again by _read)
        cls(root=str(root), train=False, download=True)
    except RuntimeError as exc:
        if not all((raw_folder / f).is_file() for f in expected_files(dataset)):
            _remove_empty(created)
            raise _not_found(dataset, raw_folder, exc) from exc
        raise _unreadable(raw_folder, exc) from exc
    except (AssertionError, ValueError, TypeError, OSError) as exc:
        # torchvision's IDX parser asserts on a bad magic number and fails to reshape
        # a truncated file; neither message says which file or what to do.
        raise _unreadable(raw_folder, exc) from exc


def _read(raw_folder: Path, dataset: DatasetName, train: bool) -> MnistSplit:
    """One split's two files (headers already checked), read whole."""
    from mnist_rules.data.idx_read import read_idx

    prefix = "train" if train else "t10k"
    try:
        images = read_idx(raw_folder / f"{prefix}-images-idx3-ubyte")
        labels = read_idx(raw_folder / f"{prefix}-labels-idx1-ubyte").long()  # as torchvision
    except OSError as exc:
        raise _unreadable(raw_folder, exc) from exc
    split = "training" if train else "test"
    if tuple(images.shape[1:]) != (28, 28):
        raise DataError(
            f"The {dataset.value} {split} images in {raw_folder} have shape"
            f" {tuple(images.shape)}, not (N, 28, 28). Replace the files with the original"
            " IDX files, or delete them to download fresh copies."
        )
    if len(images) != len(labels):
        raise _count_mismatch(f"The {dataset.value} {split} set in {raw_folder}", images, labels)
    return MnistSplit(images, labels, train)


def _count_mismatch(what: str, images, labels) -> DataError:
    return DataError(
        f"{what} has {len(images)} images but {len(labels)} labels. One of the two files is"
        " truncated or from another set: delete both to download fresh copies."
    )


def _not_found(dataset: DatasetName, raw_folder: Path, exc: Exception) -> DataError:
    files = ", ".join(expected_files(dataset))
    reason = str(exc).strip().splitlines()
    detail = f" The download failed: {reason[-1].strip()}." if reason else ""
    missing = [f for f in expected_files(dataset) if not (raw_folder / f).is_file()]
    if len(missing) < len(expected_files(dataset)):  # some are there: name what is not
        names = " and ".join(missing)
        return DataError(
            f"{names} {'is' if len(missing) == 1 else 'are'} missing from {raw_folder} (the"
            f" other files are there) and could not be downloaded.{detail} Put"
            f" {'it' if len(missing) == 1 else 'them'} there, uncompressed, or point --data-dir"
            f" or ${DATA_DIR_ENV} at a directory that holds all four ({files})."
        )
    return DataError(
        f"{raw_folder.parent.name} is not in {raw_folder} and could not be downloaded.{detail}"
        f" Put the four IDX files there ({files}; uncompressed), or point --data-dir or"
        f" ${DATA_DIR_ENV} at a directory that holds {raw_folder.parent.name}/raw/ with them."
    )


def _unreadable(raw_folder: Path, exc: Exception) -> DataError:
    what = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    return DataError(
        f"The {raw_folder.parent.name} files in {raw_folder} could not be read as IDX ({what})."
        " They may be truncated or not MNIST files: delete them to download fresh copies, or"
        " replace them with the original files."
    )


def _remove_empty(created: list[Path]) -> None:
    """Remove the directories a failed download created, deepest first, if still empty."""
    for directory in reversed(created):
        with contextlib.suppress(OSError):  # not empty: something else is in there
            directory.rmdir()
