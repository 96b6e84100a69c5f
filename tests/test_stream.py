"""Stream mode: the training images memory-mapped and served a block at a time. The
sample and epoch rules keep dataset order and make the resident mode's updates; the
batch rule's block shuffle is a permutation that repeats with its seed."""

import json

import pytest
import torch

from cli_runner import assert_clean_failure, invoke
from idx_files import write_dataset, write_idx
from mnist_rules import stream
from mnist_rules.data import DatasetName, load
from mnist_rules.errors import DataError
from mnist_rules.idx_mmap import MappedIdx
from mnist_rules.training import TrainConfig, train


@pytest.mark.parametrize(("n", "block"), [(100, 10), (105, 10), (7, 10), (10_000, 999)])
def test_the_block_shuffle_is_a_permutation_that_keeps_blocks_and_repeats(n, block):
    order = stream.block_shuffled_order(n, block, torch.Generator().manual_seed(3))
    assert torch.equal(order.sort().values, torch.arange(n))
    for start in range(0, n, block):  # each block of positions is one block of rows
        rows = order[start : start + block]
        assert len(set((rows // block).tolist())) == 1
    again = stream.block_shuffled_order(n, block, torch.Generator().manual_seed(3))
    assert torch.equal(order, again)
    other = stream.block_shuffled_order(n, block, torch.Generator().manual_seed(4))
    assert n < 20 or not torch.equal(order, other)


def test_the_stream_serves_the_rows_of_the_order_across_blocks(tmp_path):
    images = torch.randint(0, 256, (95, 4, 4), dtype=torch.uint8)
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, images)
    served = stream.BlockStream(MappedIdx(path), 95, block=10)
    order = stream.block_shuffled_order(95, 10, torch.Generator().manual_seed(0))
    served.start_epoch(order)
    flat = images.reshape(95, -1)
    for start, size in [(0, 10), (10, 3), (13, 20), (33, 62)]:  # within and across blocks
        assert torch.equal(served.rows(start, size), flat[order[start : start + size]])


@pytest.mark.parametrize("engine", ["torch", "tuned"])
@pytest.mark.parametrize("rule", ["sample", "epoch"])
def test_dataset_order_rules_make_the_resident_updates_in_stream_mode(tiny_root, rule, engine):
    config = lambda mode: TrainConfig(rule=rule, engine=engine, epochs=2, device="cpu",  # noqa: E731
                                      data_mode=mode)  # fmt: skip
    resident = train(config("resident"), load(DatasetName.mnist, tiny_root))
    streamed = train(config("stream"), load(DatasetName.mnist, tiny_root, stream=True))
    a, b = resident.engine.weights(), streamed.engine.weights()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [e.train_loss for e in resident.result.epochs] == [
        e.train_loss for e in streamed.result.epochs
    ]
    assert streamed.result.data_mode == "stream"


def test_the_batch_rule_trains_on_shuffled_blocks(tiny_root, monkeypatch):
    monkeypatch.setattr(stream, "STREAM_BLOCK", 100)  # 512 images: five blocks and a tail
    config = TrainConfig(rule="batch", engine="tuned", epochs=3, device="cpu", data_mode="stream")
    run = train(config, load(DatasetName.mnist, tiny_root, stream=True))
    losses = [e.train_loss for e in run.result.epochs]
    assert losses[-1] < losses[0] and run.result.final.test_acc > 50
    assert run.engine._stream.block == 100


def test_a_truncated_training_file_fails_in_stream_mode_too(tmp_path, offline):
    raw = write_dataset(tmp_path)
    path = raw / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match="is truncated"):
        load(DatasetName.mnist, tmp_path, stream=True)


def test_stream_mode_with_compile_is_refused(tiny_root):
    result = invoke("train", "--data-mode", "stream", "--engine", "tuned", "--compile",
                    "--data-dir", tiny_root, "--device", "cpu")  # fmt: skip
    assert_clean_failure(result, 2, "--data-mode stream runs eagerly")


def test_auto_streams_only_a_set_that_would_not_fit(tiny_root, tmp_path, monkeypatch):
    def mode_with(available):
        monkeypatch.setattr(stream, "available_memory", lambda: available)
        out = tmp_path / "r.json"
        done = invoke("train", "--epochs", "1", "--device", "cpu", "--data-dir", tiny_root,
                      "--json", out, "--quiet")  # fmt: skip
        assert done.exit_code == 0, done.output
        return json.loads(out.read_text())["data_mode"]

    assert stream.available_memory() > 0  # read from /proc/meminfo here
    size = (tiny_root / "MNIST" / "raw" / "train-images-idx3-ubyte").stat().st_size
    assert mode_with(100 * size) == "resident"
    assert mode_with(size) == "stream"  # more than half of what is available


def test_a_checkpoint_hashes_the_same_images_the_same_in_both_modes(tiny_root, monkeypatch):
    """Hashed block by block (stream mode drops each block's pages after): the digest
    must not depend on the mode, or a checkpoint could not move between them."""
    from mnist_rules.training import TrainingRun

    monkeypatch.setattr(stream, "STREAM_BLOCK", 100)
    config = lambda mode: TrainConfig(engine="tuned", device="cpu", data_mode=mode)  # noqa: E731
    resident = TrainingRun(config("resident"), load(DatasetName.mnist, tiny_root))
    streamed = TrainingRun(config("stream"), load(DatasetName.mnist, tiny_root, stream=True))
    assert resident.data_sha256() == streamed.data_sha256()
