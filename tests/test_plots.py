"""The comparison figure: its panels, the target line and the overfitting mark."""

import numpy as np

from histories import history
from mnist_rules.report.comparison import Comparison
from mnist_rules.report.plots import comparison_figure, save_figure


def comparison(target=96.0):
    return Comparison(
        [
            history("epoch", [20.0, 30.0, 37.0, 40.0], seconds=8.0, batch_size=1000),
            history("batch", [92.0, 97.0, 96.5, 96.0], seconds=10.0),  # peaks at epoch 2
        ],
        target,
    )


def texts(ax):
    return [t.get_text() for t in ax.texts]


def test_three_panels_with_the_target_line_and_a_peak_mark():
    fig = comparison_figure(comparison())
    assert [ax.get_title() for ax in fig.axes] == [
        "Training loss per epoch",
        "Test accuracy per epoch",
        "Test accuracy against training time",
    ]
    loss_ax, acc_ax, time_ax = fig.axes
    assert time_ax.get_xscale() == "log" and loss_ax.get_yscale() == "log"
    for ax in (acc_ax, time_ax):
        targets = [line for line in ax.lines if line.get_label() == "target 96%"]
        assert len(targets) == 1 and list(targets[0].get_ydata()) == [96.0, 96.0]
        assert "peak, then falls" in texts(ax)  # batch only: epoch is still improving
        assert ax.get_ylim()[0] < 20.0 < 97.0 < ax.get_ylim()[1]  # every point in view
    assert texts(acc_ax) == ["peak, then falls"]
    # where the target was first reached, on the time axis: batch, epoch 2, 20 s
    assert texts(time_ax) == ["96% after 20 s", "peak, then falls"]
    assert not loss_ax.texts
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [
        "epoch: lr 0.1, 1,000 samples per update",
        "batch: lr 0.1, 100 samples per update",
        "target 96%",
    ]


def test_update_losses_make_a_fourth_panel_with_a_running_mean_for_long_runs():
    batch = np.random.default_rng(0).random(1000) + 0.1
    losses = {"epoch": np.linspace(2.3, 2.0, 4), "batch": batch}
    fig = comparison_figure(comparison(), losses)
    assert len(fig.axes) == 4
    update_ax = fig.axes[3]
    assert update_ax.get_title().startswith("Loss of every update")
    assert update_ax.get_xscale() == "log" and update_ax.get_yscale() == "log"
    epoch, raw, mean = update_ax.lines  # epoch: 4 points; batch: every update, then its mean
    assert len(epoch.get_xdata()) == 4 and list(raw.get_ydata()) == list(batch)
    window = 10  # 1% of 1,000 updates
    expected = np.convolve(batch, np.ones(window) / window, mode="valid")
    np.testing.assert_allclose(mean.get_ydata(), expected, rtol=1e-12)
    assert mean.get_xdata()[0] == window  # each mean is drawn at its window's last update


def test_a_perfect_score_stays_inside_the_axis(tmp_path):
    fig = comparison_figure(Comparison([history("sample", [98.0, 100.0, 100.0])], 99.0))
    acc_ax = fig.axes[1]
    assert acc_ax.get_ylim()[1] >= 99.99
    save_figure(fig, tmp_path / "p.svg")  # other formats from the suffix
    assert "<svg" in (tmp_path / "p.svg").read_text()[:500]
