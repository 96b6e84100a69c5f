"""The out-of-core pieces: the memory-mapped IDX reader, and make-large's bigger sets."""

import pytest
import torch

from cli_runner import assert_clean_failure, invoke
from idx_files import FILES, write_idx
from mnist_rules.data.idx_mmap import MappedIdx
from mnist_rules.data.make_large import make_large, shifted
from mnist_rules.data.mnist import DatasetName, load
from mnist_rules.errors import DataError


@pytest.mark.parametrize("shape", [(37, 28, 28), (1000,), (5, 3, 7)])
def test_the_mapped_reader_gives_exactly_the_files_bytes(tmp_path, shape):
    values = torch.randint(
        0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    name = "x-images-idx3-ubyte" if len(shape) == 3 else "x-labels-idx1-ubyte"
    path = tmp_path / name
    write_idx(path, values)
    mapped = MappedIdx(path)
    assert mapped.data.shape == shape and len(mapped) == shape[0]
    assert torch.equal(mapped.data, values)
    assert bytes(mapped.data.flatten().numpy()) == path.read_bytes()[mapped.header :]
    mapped.release(0, shape[0])  # dropping the pages loses nothing: they are read again
    assert torch.equal(mapped.data[shape[0] // 2 :], values[shape[0] // 2 :])


def test_a_truncated_file_fails_with_the_data_error(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, torch.zeros(10, 28, 28, dtype=torch.uint8))
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(DataError, match="is truncated"):
        MappedIdx(path)


def test_shifts_move_each_image_by_at_most_the_limit_with_zeros_coming_in():
    images = torch.zeros(200, 28, 28, dtype=torch.uint8)
    images[:, 10:18, 10:18] = 255  # a square well inside: shifts keep it whole
    moved = shifted(images, 2, torch.Generator().manual_seed(1))
    tops = [int(moved[i].amax(1).nonzero()[0]) for i in range(200)]  # the square's corner
    lefts = [int(moved[i].amax(0).nonzero()[0]) for i in range(200)]
    offsets = {(top - 10, left - 10) for top, left in zip(tops, lefts, strict=True)}
    assert offsets <= {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}
    assert len(offsets) > 10  # many different shifts
    assert torch.equal(moved.sum((1, 2)), images.sum((1, 2)))  # nothing lost or wrapped


def test_make_large_writes_valid_idx_files_of_the_expected_counts(tiny_data, tmp_path):
    raw = make_large(tiny_data, copies=3, out=tmp_path / "big", seed=7)
    assert sorted(p.name for p in raw.iterdir()) == sorted(FILES.values())
    big = load(DatasetName.mnist, tmp_path / "big")
    n = len(tiny_data.train)
    assert len(big.train) == 3 * n and len(big.test) == len(tiny_data.test)
    assert torch.equal(big.train.data[:n], tiny_data.train.data)  # copy 0 as it was
    assert torch.equal(big.train.targets, tiny_data.train.targets.repeat(3))
    assert not torch.equal(big.train.data[n : 2 * n], tiny_data.train.data)  # shifted
    assert torch.equal(big.test.data, tiny_data.test.data)
    again = make_large(tiny_data, copies=3, out=tmp_path / "again", seed=7)
    assert (again / FILES[("train", "images")]).read_bytes() == (
        raw / FILES[("train", "images")]
    ).read_bytes()  # seeded: the same bytes


def test_make_large_cli_writes_and_refuses_to_overwrite_its_source(tiny_root, tmp_path):
    done = invoke("make-large", "--copies", "2", "--out", tmp_path / "big", "--data-dir", tiny_root)
    assert done.exit_code == 0, done.output
    assert "wrote 1,024 training images" in done.stdout and "--data-dir" in done.stdout
    refused = invoke("make-large", "--copies", "2", "--out", tiny_root, "--data-dir", tiny_root)
    assert_clean_failure(refused, 2, "would be overwritten")
