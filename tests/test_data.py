from pathlib import Path

import pytest
import torch

from idx_files import FILES, write_dataset, write_idx
from mnist_rules.data.mnist import DatasetName, expected_files, load, resolve_data_dir
from mnist_rules.errors import DataError, UsageError

FOUR_FILES = sorted(FILES.values())


def test_loads_tiny_idx_files_with_pixels_in_0_1(tiny_data):
    assert tiny_data.train_size == 512 and len(tiny_data.test) == 200
    image, label = tiny_data.train[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert image.min() >= 0.0 and image.max() <= 1.0 and image.max() > 0.5  # /255, no norm
    assert torch.equal(image[0], tiny_data.train.data[0].float() / 255)
    assert isinstance(label, int) and 0 <= label <= 9


def test_train_subset_takes_leading_images_and_keeps_whole_test_set(tiny_root):
    data = load(DatasetName.mnist, tiny_root, train_subset=100)
    assert data.train_size == 100 and data.train_images.shape == (100, 28, 28)
    assert torch.equal(data.train_images, data.train.data[:100])
    assert len(data.test) == 200


@pytest.mark.parametrize("subset", [0, 513])
def test_train_subset_out_of_range_is_a_usage_error(tiny_root, subset):
    with pytest.raises(UsageError, match="between 1 and 512"):
        load(DatasetName.mnist, tiny_root, train_subset=subset)


def test_missing_directory_without_internet_names_it_and_the_four_files(tmp_path, offline):
    root = tmp_path / "nowhere"
    with pytest.raises(DataError) as err:
        load(DatasetName.mnist, root)
    message = str(err.value)
    assert str(root / "MNIST" / "raw") in message and "could not be downloaded" in message
    assert all(name in message for name in FOUR_FILES)
    assert not root.exists()  # the failed download leaves no empty folders behind


def test_a_failed_download_removes_the_missing_parents_of_the_data_dir_too(tmp_path, offline):
    root = tmp_path / "shared" / "data"  # --data-dir ../shared/data where neither exists
    with pytest.raises(DataError):
        load(DatasetName.mnist, root)
    assert list(tmp_path.iterdir()) == []


def test_one_missing_file_is_reported_the_same_way(tmp_path, offline):
    raw = write_dataset(tmp_path)
    (raw / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load(DatasetName.mnist, tmp_path)
    assert (raw / "train-images-idx3-ubyte").is_file()  # nothing of the user's is removed


@pytest.mark.parametrize(
    ("damage", "phrase"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[:1000]), "is truncated: its header gives 512 x"),
        (lambda p: p.write_bytes(p.read_bytes() + b"x"), "longer than its header says"),
        (lambda p: p.write_bytes(b"\x00\x00\x09\x03" + p.read_bytes()[4:]), "has 0x00000903"),
        (lambda p: p.write_text("this is not an IDX file"), "is not an MNIST image file"),
        (lambda p: p.write_bytes(b"\x00\x00"), "has only 2 bytes"),
        (lambda p: p.write_bytes(b"\x00\x00\x08\x03\x00"), "ends inside its header"),
    ],
    ids=["truncated", "too-long", "wrong-magic", "not-idx", "empty-ish", "short-header"],
)
def test_a_bad_file_is_named_with_what_is_wrong(tmp_path, offline, damage, phrase):
    raw = write_dataset(tmp_path)
    damage(raw / "train-images-idx3-ubyte")
    with pytest.raises(DataError, match=phrase) as err:
        load(DatasetName.mnist, tmp_path)
    assert f"train-images-idx3-ubyte in {raw}" in str(err.value)
    assert "delete the four files to download fresh copies" in str(err.value)


def test_image_and_label_counts_must_agree(tmp_path, offline):
    raw = write_dataset(tmp_path)
    write_idx(raw / "train-labels-idx1-ubyte", torch.zeros(100, dtype=torch.uint8))
    with pytest.raises(DataError, match="512 images but 100 labels"):
        load(DatasetName.mnist, tmp_path)


def test_other_mnist_format_sets_live_in_their_own_folder(tmp_path):
    write_dataset(tmp_path, folder="FashionMNIST", train=64, test=32)
    data = load(DatasetName.fashion_mnist, tmp_path)
    assert data.train_size == 64 and data.raw_folder == tmp_path / "FashionMNIST" / "raw"
    assert expected_files(DatasetName.kmnist) == expected_files(DatasetName.mnist)


def test_data_dir_precedence_option_then_env_then_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_RULES_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "cli") == tmp_path / "cli"
    assert resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("MNIST_RULES_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_data_dir(None) == Path(tmp_path / "cache" / "mnist-rules")


def _as_copied_download(raw: Path) -> dict[str, bytes]:
    """Gzip the four IDX files and remove them: what a copied download holds."""
    import gzip

    originals = {}
    for name in FOUR_FILES:
        originals[name] = (raw / name).read_bytes()
        (raw / f"{name}.gz").write_bytes(gzip.compress(originals[name]))
        (raw / name).unlink()
    return originals


def test_the_gz_files_of_a_copied_download_are_extracted_offline(tmp_path, offline):
    raw = write_dataset(tmp_path)
    originals = _as_copied_download(raw)
    data = load(DatasetName.mnist, tmp_path)
    assert data.train_size == 512 and len(data.test) == 200
    assert {name: (raw / name).read_bytes() for name in FOUR_FILES} == originals


def test_a_truncated_gz_is_named_and_leaves_no_file(tmp_path, offline):
    raw = write_dataset(tmp_path)
    _as_copied_download(raw)
    archive = raw / "train-images-idx3-ubyte.gz"
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(
        DataError, match=r"train-images-idx3-ubyte\.gz in .* cannot be decompressed"
    ):
        load(DatasetName.mnist, tmp_path)
    assert not (raw / "train-images-idx3-ubyte").exists()
    assert [p.name for p in raw.iterdir() if p.name.startswith(".")] == []  # no temporary


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.view(torch.int32) if t.dtype == torch.float32 else t


def test_the_idx_reader_gives_torchvisions_tensors_and_items(tiny_root):
    """The files are read without torchvision: the same tensors its MNIST holds, the
    same items its ToTensor() makes, bit for bit; and the torch engine's dataset,
    torchvision's MNIST over the tensors read here, the same again."""
    from torchvision.datasets import MNIST
    from torchvision.transforms import ToTensor

    from mnist_rules.data.mnist import MnistSplit
    from mnist_rules.engines.torch_engine import torchvision_mnist

    data = load(DatasetName.mnist, tiny_root)
    for ours in (data.train, data.test):
        assert isinstance(ours, MnistSplit)
        reference = MNIST(str(tiny_root), train=ours.train, transform=ToTensor())
        for mine, theirs in ((ours.data, reference.data), (ours.targets, reference.targets)):
            assert (mine.dtype, mine.shape) == (theirs.dtype, theirs.shape)
            assert torch.equal(mine, theirs)
        assert len(ours) == len(reference)
        engines = torchvision_mnist(ours)
        assert isinstance(engines, MNIST) and len(engines) == len(reference)
        assert engines.data is ours.data  # not read a second time
        for i in (0, 1, len(reference) - 1):
            (image, label), (expected, expected_label) = ours[i], reference[i]
            assert image.dtype == expected.dtype == torch.float32
            assert torch.equal(_bits(image), _bits(expected))
            assert type(label) is int and label == expected_label
            image, label = engines[i]
            assert torch.equal(_bits(image), _bits(expected)) and label == expected_label


def test_missing_files_are_downloaded_by_torchvision_then_read(tmp_path, monkeypatch):
    from torchvision import datasets

    def download(self):  # what torchvision's download leaves behind: the four files
        write_dataset(Path(self.root), train=64, test=32)

    monkeypatch.setattr(datasets.MNIST, "download", download)
    data = load(DatasetName.mnist, tmp_path / "new")
    assert data.train_size == 64 and len(data.test) == 32
    assert data.train.data.shape == (64, 28, 28) and data.test.targets.dtype == torch.int64


def test_images_that_are_not_28_by_28_are_named(tmp_path, offline):
    raw = write_dataset(tmp_path)
    write_idx(raw / "train-images-idx3-ubyte", torch.zeros(512, 28, 27, dtype=torch.uint8))
    with pytest.raises(DataError, match=r"have shape \(512, 28, 27\), not \(N, 28, 28\)"):
        load(DatasetName.mnist, tmp_path)
