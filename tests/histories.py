"""Synthetic run histories: RunResults with chosen accuracies and timings, for testing
what compare concludes and draws without training anything."""

from mnist_rules.training.results import EpochResult, RunResult


def history(rule, accs, seconds=1.0, batch_size=100, lr=0.1):
    run = RunResult(
        rule=rule,
        engine="torch",
        device="cpu",
        device_name="test CPU",
        dataset="mnist",
        lr=lr,
        batch_size=batch_size,
        seed=0,
        train_size=1000,
        test_size=100,
        shuffle=False,
        torch_version="x",
        mnist_rules_version="x",
        threads=1,
    )
    secs = seconds if isinstance(seconds, list) else [seconds] * len(accs)
    for i, (acc, s) in enumerate(zip(accs, secs, strict=True), 1):
        run.epochs.append(EpochResult(i, 1.0 / i, acc, s, 10, 0.1))
    return run
