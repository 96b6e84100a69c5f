"""Stream mode: the training images memory-mapped and served a block at a time. The
sample and epoch rules keep dataset order and make the resident mode's updates; the
batch rule's block shuffle is a permutation that repeats with its seed."""

import json
import time

import pytest
import torch

from cli_runner import assert_clean_failure, invoke
from idx_files import write_dataset, write_idx
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.data import stream
from mnist_rules.data.idx_mmap import MappedIdx
from mnist_rules.data.mnist import DatasetName, load
from mnist_rules.errors import DataError
from mnist_rules.training.loop import train


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


@pytest.mark.parametrize("buffers", [2, 3, 5])
def test_the_stream_serves_the_rows_of_the_order_across_blocks(tmp_path, buffers):
    images = torch.randint(0, 256, (95, 4, 4), dtype=torch.uint8)
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, images)
    served = stream.BlockStream(MappedIdx(path), 95, block=10, buffers=buffers)
    flat = images.reshape(95, -1)
    for seed in range(2):  # two epochs: the ring goes on from where the last one left it
        order = stream.block_shuffled_order(95, 10, torch.Generator().manual_seed(seed))
        served.start_epoch(order)
        # within a block, across two, and across more blocks than the ring holds
        for start, size in [(0, 10), (10, 3), (13, 20), (33, 40), (73, 22)]:
            assert torch.equal(served.rows(start, size), flat[order[start : start + size]])


def test_a_block_spread_over_the_file_is_read_window_by_window(tmp_path):
    """Under torchrun a process's block of positions is its share of several blocks
    of rows: every other row here, in a shuffled order, spanning the whole file."""
    images = torch.randint(0, 256, (95, 4, 4), dtype=torch.uint8)
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, images)
    order = torch.arange(0, 95, 2)[torch.randperm(48, generator=torch.Generator().manual_seed(1))]
    served = stream.BlockStream(MappedIdx(path), 95, block=10)
    served.start_epoch(order)
    flat = images.reshape(95, -1)
    for start in range(0, 48, 12):  # across blocks too
        assert torch.equal(served.rows(start, 12), flat[order[start : start + 12]])


def test_a_served_block_is_not_overwritten_while_the_engine_uses_it(tmp_path):
    """The ring refills a slot only after the engine asked for rows past its block:
    rows served are intact until the next call, whatever the reader does meanwhile."""
    images = torch.randint(0, 256, (200, 4, 4), dtype=torch.uint8)
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, images)
    served = stream.BlockStream(MappedIdx(path), 200, block=10, buffers=2)
    served.start_epoch(torch.arange(200))
    flat = images.reshape(200, -1)
    for start in range(0, 200, 5):
        rows = served.rows(start, 5)
        time.sleep(0.002)  # the reader has time to run ahead, as far as it may
        assert torch.equal(rows, flat[start : start + 5])


def count_rows_read(monkeypatch) -> list[int]:
    """The rows each read of the mapped file took (a read releases its rows' pages)."""
    read: list[int] = []
    release = MappedIdx.release

    def counted(mapped, start, stop):
        read.append(stop - start)
        release(mapped, start, stop)

    monkeypatch.setattr(MappedIdx, "release", counted)
    return read


@pytest.mark.parametrize("buffers", [2, 3])
def test_chunks_that_end_inside_a_block_read_each_block_once(tmp_path, monkeypatch, buffers):
    """The tuned engine's per-sample blocks of 128 over stream blocks of 100: a chunk
    ends inside a block, where the next one starts, so that block must stay (on CUDA
    a block read again is also copied to the device again)."""
    images = torch.randint(0, 256, (512, 4, 4), dtype=torch.uint8)
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, images)
    read = count_rows_read(monkeypatch)
    served = stream.BlockStream(MappedIdx(path), 512, block=100, buffers=buffers)
    flat = images.reshape(512, -1)
    for _ in range(2):
        served.start_epoch(torch.arange(512))
        for start in range(0, 512, 128):
            assert torch.equal(served.rows(start, 128), flat[start : start + 128])
    served._pool.shutdown(wait=True)  # the last epoch's reads are done
    assert sum(read) == 2 * 512  # each block once an epoch


def test_the_tuned_per_sample_steps_read_each_block_once_an_epoch(tiny_root, monkeypatch):
    """As test_cuda.py's stream test counts the bytes copied to the device."""
    data = load(DatasetName.mnist, tiny_root, stream=True)
    read = count_rows_read(monkeypatch)
    config = TrainConfig(rule="sample", engine="tuned", epochs=2, device="cpu", data_mode="stream",
                         stream_block=100)  # fmt: skip
    run = train(config, data)
    run.engine.stream._pool.shutdown(wait=True)
    assert sum(read) == 2 * 512


def test_waiting_for_a_slow_reader_is_counted_as_stall(tmp_path, monkeypatch):
    images = torch.randint(0, 256, (60, 4, 4), dtype=torch.uint8)
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, images)
    mapped = MappedIdx(path)
    release = mapped.release
    monkeypatch.setattr(mapped, "release", lambda *a: (time.sleep(0.05), release(*a)))
    served = stream.BlockStream(mapped, 60, block=10)
    served.start_epoch(torch.arange(60))
    for start in range(0, 60, 10):
        served.rows(start, 10)  # no work between blocks: each one is waited for
    assert served.stalled > 0.2  # six reads of 50 ms, the first ones waited for whole
    served.reset_stall()
    assert served.stalled == 0.0


@pytest.mark.parametrize(("block", "buffers"), [(0, 2), (10, 1)])
def test_a_stream_needs_a_block_and_two_buffers(tmp_path, block, buffers):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, torch.zeros(10, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="block >= 1 and buffers >= 2"):
        stream.BlockStream(MappedIdx(path), 10, block=block, buffers=buffers)


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


def test_the_batch_rule_trains_on_shuffled_blocks(tiny_root):
    # 512 images: five blocks of 100 and a tail
    config = TrainConfig(rule="batch", engine="tuned", epochs=3, device="cpu", data_mode="stream",
                         stream_block=100)  # fmt: skip
    run = train(config, load(DatasetName.mnist, tiny_root, stream=True))
    losses = [e.train_loss for e in run.result.epochs]
    assert losses[-1] < losses[0] and run.result.final.test_acc > 50
    assert run.engine.stream.block == 100


def test_a_truncated_training_file_fails_in_stream_mode_too(tmp_path, offline):
    raw = write_dataset(tmp_path)
    path = raw / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match="is truncated"):
        load(DatasetName.mnist, tmp_path, stream=True)


def test_stream_mode_with_captured_steps_is_refused(tiny_root):
    result = invoke("train", "--data-mode", "stream", "--engine", "tuned", "--step-mode",
                    "graph", "--data-dir", tiny_root, "--device", "cpu")  # fmt: skip
    assert_clean_failure(result, 2, "--data-mode stream cannot run --step-mode graph")


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
    from mnist_rules.training import checkpoint
    from mnist_rules.training.loop import TrainingRun

    monkeypatch.setattr(checkpoint, "STREAM_BLOCK", 100)  # five blocks and a tail
    config = lambda mode: TrainConfig(engine="tuned", device="cpu", data_mode=mode)  # noqa: E731
    resident = TrainingRun(config("resident"), load(DatasetName.mnist, tiny_root))
    streamed = TrainingRun(config("stream"), load(DatasetName.mnist, tiny_root, stream=True))
    assert resident.data_sha256() == streamed.data_sha256()


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--stream-buffers", "1"], "Invalid value for '--stream-buffers'"),
        (["--stream-block", "0"], "Invalid value for '--stream-block'"),
    ],
)
def test_bad_stream_options_are_usage_errors(tiny_root, args, phrase):
    result = invoke("train", "--data-mode", "stream", *args, "--data-dir", tiny_root,
                    "--device", "cpu")  # fmt: skip
    assert_clean_failure(result, 2, phrase)


def test_the_stream_options_shape_the_run(tiny_root, tmp_path):
    out = tmp_path / "r.json"
    result = invoke("train", "--epochs", "1", "--data-mode", "stream", "--stream-block", "64",
                    "--stream-buffers", "3", "--engine", "tuned", "--data-dir", tiny_root,
                    "--device", "cpu", "--json", out, "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["data_mode"] == "stream"


def test_train_says_when_it_streams_the_set(tiny_root):
    """--data-mode auto decides by size: the header says which it chose."""

    def header(mode):
        result = invoke("train", "--epochs", "1", "--data-mode", mode, "--data-dir", tiny_root,
                        "--device", "cpu")  # fmt: skip
        assert result.exit_code == 0, result.output
        return result.output.splitlines()[0]

    assert "(training set streamed from disk);" in header("stream")
    assert "streamed" not in header("resident")


def test_a_block_shuffled_checkpoint_resumes_only_with_its_block(tiny_root, tmp_path):
    """The batch rule's next epochs are shuffled by block in stream mode: resuming in
    resident mode, or with another block size, would be another run."""
    ckpt = tmp_path / "c.pt"
    common = ["--rule", "batch", "--engine", "tuned", "--device", "cpu", "--data-dir", tiny_root]
    first = invoke("train", *common, "--epochs", "1", "--data-mode", "stream",
                   "--stream-block", "100", "--checkpoint", ckpt, "--quiet")  # fmt: skip
    assert first.exit_code == 0, first.output
    resident = invoke("train", *common, "--epochs", "2", "--data-mode", "resident",
                      "--resume", ckpt)  # fmt: skip
    assert_clean_failure(resident, 2, "--data-mode stream --stream-block 100")
    assert "shuffled in blocks of 100 (stream mode)" in resident.output
    other = invoke("train", *common, "--epochs", "2", "--data-mode", "stream",
                   "--stream-block", "50", "--resume", ckpt)  # fmt: skip
    assert_clean_failure(other, 2, "this command: in blocks of 50")
    same = invoke("train", *common, "--epochs", "2", "--data-mode", "stream",
                  "--stream-block", "100", "--resume", ckpt, "--quiet")  # fmt: skip
    assert same.exit_code == 0, same.output


def test_auto_counts_the_set_once_per_process_on_the_host(tmp_path, monkeypatch):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(bytes(1000))
    monkeypatch.setattr(stream, "available_memory", lambda: 3000)
    assert stream.auto_data_mode(path) == "resident"  # 1,000 of half of 3,000
    assert stream.auto_data_mode(path, processes=2) == "stream"  # 2,000 of 1,500
    assert stream.auto_data_mode(tmp_path / "missing") == "resident"  # to be downloaded
