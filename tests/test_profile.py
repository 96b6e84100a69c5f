"""`mnist-rules profile` on the tiny generated set, on the CPU: the split of a step's
time, the trace, the JSON, and the transfer options' messages. The CUDA event
accounting is checked on made-up events here, and for real in tests/test_cuda.py."""

import json
from types import SimpleNamespace

import pytest
import torch
from torch.autograd import DeviceType

from cli_runner import assert_clean_failure, invoke
from mnist_rules.config.train_config import TrainConfig
from mnist_rules.engines.regions import BACKWARD, DATA, EPOCH_START, FORWARD, TRANSFER
from mnist_rules.report.profiling import PARTS, device_split, profile
from mnist_rules.training.loop import TrainingRun

FIELDS = {  # the JSON contract the issue names, and the types of its values
    "rule": str,
    "engine": str,
    "device": str,
    "steps": int,
    "transfer_mode": str,
    "pinned": bool,
    "per_step_us": float,
    "data_mode": str,
    "data_us": float,
    "stall_us": float,
    "transfer_us": float,
    "compute_us": float,
    "overhead_us": float,
    "transfer_bytes": int,
    "transfer_count": int,
    "epoch_seconds_projected": float,
}


@pytest.mark.parametrize("engine", ["torch", "tuned"])
@pytest.mark.parametrize("rule", ["sample", "batch", "epoch"])
def test_the_parts_are_non_negative_and_add_up_to_the_step(tiny_data, engine, rule):
    run = TrainingRun(TrainConfig(rule=rule, engine=engine, device="cpu"), tiny_data)
    steps = 2 if rule == "epoch" else 40
    result = profile(run, steps=steps, warmup=1)
    parts = [result.part_us(p) for p in PARTS]
    assert all(p >= 0 for p in parts)
    assert sum(parts) == pytest.approx(result.per_step_us, rel=0.10)
    assert result.compute_us > 0 and result.transfer_us == 0 and result.transfer_count == 0
    if engine == "torch":  # its DataLoader decodes every image through PIL and ToTensor
        assert result.data_us > 0
    assert result.transfer_mode == "none" and result.steps == steps
    assert result.data_mode == "resident" and result.stall_us == 0.0
    per_epoch = result.per_step_us * result.updates_per_epoch / 1e6
    assert result.epoch_seconds_projected == pytest.approx(per_epoch)
    assert result.per_step_us_profiled > 0


def test_profiling_leaves_the_engine_as_it_was(tiny_data):
    run = TrainingRun(TrainConfig(rule="sample", engine="tuned", device="cpu"), tiny_data)
    profile(run, steps=10, warmup=0)
    regions = run.engine.regions
    assert not (regions.enabled or regions.timing)  # regions cost time: off again after
    run.run_epoch()  # and the run trains on as usual


def test_cli_writes_a_valid_trace_and_typed_json(tiny_root, tmp_path):
    trace, out = tmp_path / "t.json", tmp_path / "p.json"
    result = invoke(
        "profile", "--rule", "batch", "--engine", "torch", "--steps", "5", "--warmup", "1",
        "--device", "cpu", "--data-dir", tiny_root, "--trace", trace, "--json", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(trace.read_text())["traceEvents"], list)
    figures = json.loads(out.read_text())
    for field, kind in FIELDS.items():
        assert isinstance(figures[field], kind), field
    names = {e.get("name") for e in json.loads(trace.read_text())["traceEvents"]}
    assert {DATA, FORWARD, BACKWARD} <= names  # the engine's regions are in the trace
    for word in ("data", "transfer", "compute", "overhead", "Under torch.profiler"):
        assert word in result.stdout


@pytest.mark.parametrize("option", [["--transfer", "per-step"], ["--pinned"], ["--pageable"]])
def test_transfer_options_on_a_cpu_say_so_in_one_line_and_profile(tiny_root, option):
    result = invoke(
        "profile", "--steps", "3", "--warmup", "0", "--device", "cpu", "--data-dir", tiny_root,
        *option,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stdout.splitlines() if line.startswith("cpu: ")]
    assert notes == [
        "cpu: there is no host-to-device transfer to measure, so --transfer and --pinned"
        " change nothing; splitting the time into data, compute and overhead."
    ]


def test_compare_transfers_needs_a_gpu(tiny_root):
    result = invoke("profile", "--compare-transfers", "--device", "cpu", "--data-dir", tiny_root)
    assert_clean_failure(result, 2, "--compare-transfers", "CUDA")


def test_compare_transfers_with_a_transfer_option_is_refused(tiny_root):
    result = invoke("profile", "--compare-transfers", "--pinned", "--data-dir", tiny_root)
    assert_clean_failure(result, 2, "drop --transfer")


@pytest.mark.parametrize(
    ("args", "phrase"),
    [(["--steps", "0"], "--steps"), (["--warmup", "-1"], "--warmup"), (["--rule", "x"], "--rule")],
)
def test_bad_options_are_usage_errors(tiny_root, args, phrase):
    result = invoke("profile", "--data-dir", tiny_root, *args)
    assert result.exit_code == 2 and phrase in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("trace_steps", [3, None])
def test_trace_steps_limits_the_trace(tiny_root, tmp_path, trace_steps):
    """The split is over --steps; the trace holds --trace-steps of them (default 100)."""
    trace = tmp_path / "t.json"
    limit = [] if trace_steps is None else ["--trace-steps", trace_steps]
    result = invoke(
        "profile", "--rule", "batch", "--engine", "torch", "--steps", "8", "--warmup", "1",
        "--device", "cpu", "--data-dir", tiny_root, "--trace", trace, *limit,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    events = json.loads(trace.read_text())["traceEvents"]
    forwards = [e for e in events if e.get("name") == FORWARD and e.get("ph") == "X"]
    assert len(forwards) == (trace_steps or 8)  # one forward region a step


def test_trace_steps_without_a_trace_is_refused(tiny_root):
    result = invoke("profile", "--data-dir", tiny_root, "--trace-steps", "5")
    assert_clean_failure(result, 2, "--trace-steps sets the length of the trace")


def test_an_unwritable_trace_path_fails_before_profiling(tiny_root, tmp_path):
    result = invoke("profile", "--data-dir", tiny_root, "--trace", tmp_path / "no" / "t.json")
    assert_clean_failure(result, 2, "--trace")


def event(name, device_type=DeviceType.CPU, device=0.0, id=0, link=0, parent=None, note=False):
    """A FunctionEvent's fields that device_split reads (`link`: linked_correlation_id,
    the host op that launched a device event; `note`: a user annotation)."""
    return SimpleNamespace(
        name=name, device_type=device_type, device_time_total=device, id=id,
        linked_correlation_id=link, cpu_parent=parent, is_user_annotation=note,
    )  # fmt: skip


def test_cuda_events_split_into_transfer_and_compute():
    """Memcpy HtoD device events are the transfer, kernels the compute; other copies,
    memsets and host-side events are neither."""
    cuda = DeviceType.CUDA
    events = [
        event(DATA),
        event("aten::addmm"),
        event("Memcpy HtoD (Pageable -> Device)", cuda, device=7.0),
        event("Memcpy HtoD (Pinned -> Device)", cuda, device=3.0),
        event("Memcpy DtoH (Device -> Pageable)", cuda, device=100.0),
        event("Memset (Device)", cuda, device=100.0),
        event("void gemv_kernel<float>", cuda, device=11.0),
    ]
    parts = device_split(events)
    assert (parts["transfer"], parts["compute"], parts["copies"]) == (10.0, 11.0, 2)
    assert parts["source"] == "mixed"
    assert device_split(events[:3])["source"] == "pageable"
    assert device_split(events[:2]) == {"transfer": 0, "compute": 0, "copies": 0, "source": None}


def test_the_epochs_copies_and_the_regions_own_ranges_are_left_out():
    """A copy launched inside the epoch's start (its order, once an epoch) is not a
    per-step transfer; a region's range shown on the device is not a kernel."""
    cuda = DeviceType.CUDA
    start = event(EPOCH_START, id=1)
    transfer = event(TRANSFER, id=3)
    events = [
        start,
        event("aten::copy_", id=2, parent=start),
        transfer,
        event("aten::copy_", id=4, parent=transfer),
        event("Memcpy HtoD (Pageable -> Device)", cuda, device=5.0, id=90, link=2),
        event("Memcpy HtoD (Pinned -> Device)", cuda, device=3.0, id=91, link=4),
        event(TRANSFER, cuda, device=50.0, id=92, note=True),  # gpu_user_annotation
        event("void gemv_kernel<float>", cuda, device=11.0, id=93, link=4),
    ]
    parts = device_split(events)
    assert (parts["transfer"], parts["compute"], parts["copies"]) == (3.0, 11.0, 1)
    assert parts["source"] == "pinned"


def test_torch_2_11s_events_without_links_split_the_same_from_each_ops_kernels():
    """torch 2.11 (the GPU machine's) sets no linked_correlation_id on its events; it
    lists each host op's device events as the op's `kernels` instead. A kernel no host
    op launched (a CUDA graph's replay) counts as compute all the same."""
    cuda = DeviceType.CUDA
    kernel = lambda name, duration: SimpleNamespace(name=name, device=0, duration=duration)  # noqa: E731

    def op(name, kernels=(), parent=None):
        return SimpleNamespace(name=name, device_type=DeviceType.CPU, cpu_parent=parent,
                               kernels=list(kernels), is_user_annotation=False)  # fmt: skip

    def on_device(name, duration, note=False):
        return SimpleNamespace(name=name, device_type=cuda, device_time_total=duration,
                               is_user_annotation=note, kernels=[])  # fmt: skip

    pageable, pinned = "Memcpy HtoD (Pageable -> Device)", "Memcpy HtoD (Pinned -> Device)"
    start, transfer = op(EPOCH_START, [kernel(EPOCH_START, 60.0)]), op(TRANSFER)
    events = [
        start,
        op("aten::copy_", [kernel(pageable, 5.0)], parent=start),  # the epoch's order
        transfer,
        op("aten::copy_", [kernel(pinned, 3.0)], parent=transfer),
        op("aten::mv", [kernel("void gemv_kernel<float>", 11.0)], parent=transfer),
        on_device(EPOCH_START, 60.0, note=True),  # the regions' own ranges
        on_device(TRANSFER, 50.0, note=True),
        on_device(pageable, 5.0),
        on_device(pinned, 3.0),
        on_device("void gemv_kernel<float>", 11.0),
        on_device("triton_head_kernel", 2.0),  # replayed from a graph: no host op
        on_device(pageable, 7.0),  # a per-step copy of another length
    ]
    parts = device_split(events)
    assert (parts["transfer"], parts["compute"], parts["copies"]) == (10.0, 13.0, 2)
    assert parts["source"] == "mixed"


def test_only_the_epoch_starts_copies_are_left_out_not_its_kernels():
    """The epoch's start also runs kernels (the one-hot labels' scatter): compute, as
    before, in both torch's event shapes."""
    cuda = DeviceType.CUDA
    start = event(EPOCH_START, id=1)
    linked = [
        start,
        event("aten::copy_", id=2, parent=start),
        event("aten::scatter_", id=3, parent=start),
        event("Memcpy HtoD (Pageable -> Device)", cuda, device=5.0, id=90, link=2),
        event("scatter_kernel", cuda, device=4.0, id=91, link=3),
    ]
    kernel = lambda name, duration: SimpleNamespace(name=name, device=0, duration=duration)  # noqa: E731
    host = lambda name, kernels, parent: SimpleNamespace(  # noqa: E731
        name=name, device_type=DeviceType.CPU, cpu_parent=parent, kernels=kernels,
        is_user_annotation=False,
    )  # fmt: skip
    start_211 = host(EPOCH_START, [], None)
    unlinked = [
        start_211,
        host("aten::copy_", [kernel("Memcpy HtoD (Pageable -> Device)", 5.0)], start_211),
        host("aten::scatter_", [kernel("scatter_kernel", 4.0)], start_211),
        *(SimpleNamespace(name=e.name, device_type=cuda, device_time_total=e.device_time_total,
                          is_user_annotation=False, kernels=[]) for e in linked[3:]),
    ]  # fmt: skip
    for events in (linked, unlinked):
        parts = device_split(events)
        assert (parts["transfer"], parts["compute"], parts["copies"]) == (0.0, 4.0, 0)


def test_a_host_op_knows_the_region_it_ran_in_from_a_real_profile():
    """What device_split walks, in a real (CPU) profile: an op's cpu_parent chain
    reaches the record_function range around it."""
    from torch.profiler import profile as torch_profile
    from torch.profiler import record_function

    from mnist_rules.report.profiling import _launched_in

    a, b = torch.zeros(1000), torch.ones(1000)
    with torch_profile() as prof:
        with record_function(EPOCH_START):
            a.copy_(b)
        a.add_(b)
    ops = {e.name: e for e in prof.events()}
    assert _launched_in(ops["aten::copy_"], EPOCH_START)
    assert not _launched_in(ops["aten::add_"], EPOCH_START)
    assert not _launched_in(None, EPOCH_START)


def test_region_timing_sums_wall_time_per_name():
    from mnist_rules.engines.regions import Regions

    regions = Regions()
    with regions(DATA):  # off: a no-op
        pass
    assert not regions.seconds
    regions.timing = True
    for _ in range(3):
        with regions(FORWARD):
            sum(range(10_000))
    assert regions.seconds[FORWARD] > 0 and set(regions.seconds) == {FORWARD}


@pytest.mark.parametrize("engine", ["torch", "tuned"])
def test_stream_mode_reports_the_wait_for_a_slow_reader_as_stall(tiny_root, engine, monkeypatch):
    """A reader made slow (200 ms a block of 64, against a few milliseconds of training
    per block) leaves the training waiting: the wait is the stall, not data. The reader
    starts inside the timed window, so its four reads take at least 0.8 s of it, and
    training can hide little of that, even on a loaded machine."""
    import time

    from mnist_rules.data.mnist import DatasetName, load

    data = load(DatasetName.mnist, tiny_root, stream=True)
    release = data.train.mapped.release
    monkeypatch.setattr(data.train.mapped, "release", lambda *a: (time.sleep(0.2), release(*a)))
    config = TrainConfig(rule="batch", engine=engine, device="cpu", data_mode="stream",
                         stream_block=64, batch_size=32)  # fmt: skip
    result = profile(TrainingRun(config, data), steps=8, warmup=0)  # 4 blocks
    assert result.data_mode == "stream"
    assert result.stall_us * 8 > 0.4e6  # at least half of the four reads was waited for
    assert result.stall_us > result.data_us
    parts = [result.part_us(p) for p in PARTS]
    assert all(p >= 0 for p in parts)
    assert sum(parts) == pytest.approx(result.per_step_us, rel=0.10)


ON_A_GPU = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=ON_A_GPU)])
def test_cli_profiles_stream_mode_with_a_stall_row(tiny_root, tmp_path, device):
    out = tmp_path / "p.json"
    result = invoke("profile", "--rule", "batch", "--engine", "tuned", "--steps", "20",
                    "--data-mode", "stream", "--stream-block", "100", "--device", device,
                    "--data-dir", tiny_root, "--json", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "stall" in result.stdout and "data stream" in result.stdout
    figures = json.loads(out.read_text())
    assert figures["data_mode"] == "stream" and figures["stall_us"] >= 0
    if device == "cuda":  # the blocks' copies on the side stream, from pinned memory
        assert figures["transfer_mode"] == "stream" and figures["pinned"]
        assert figures["transfer_count"] > 0 and figures["transfer_bytes"] > 0
        assert "side stream" in result.stdout


def test_resident_profiles_print_no_stall_row(tiny_root):
    result = invoke("profile", "--steps", "3", "--device", "cpu", "--data-dir", tiny_root,
                    "--data-mode", "resident")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "stall" not in result.stdout


def test_stream_mode_with_a_transfer_path_is_refused(tiny_root):
    result = invoke("profile", "--data-mode", "stream", "--transfer", "resident",
                    "--data-dir", tiny_root)  # fmt: skip
    assert_clean_failure(result, 2, "--data-mode stream copies each block")
