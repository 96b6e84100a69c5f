"""What `profile` returns: report.profiling's ProfileResult (the --json contract), shown
as the table the command prints; and, for --compare-transfers, the four of them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from mnist_rules.api.display import Parts, Shown
from mnist_rules.report import profiling


class ProfileResult(Shown, profiling.ProfileResult):
    """One profiled run: per_step_us and its parts (data_us, stall_us, transfer_us,
    compute_us, overhead_us), the transfers, and the run's settings; `part_us(name)`."""

    width = 120

    @classmethod
    def of(cls, measured: profiling.ProfileResult) -> ProfileResult:
        return cls(**{f.name: getattr(measured, f.name) for f in fields(measured)})

    def parts(self) -> Parts:
        from mnist_rules.report.profile_tables import parts_table

        return [(parts_table(self), True)]  # as profile has always printed it

    def rows(self) -> list[dict[str, Any]]:
        return [self.to_dict()]


@dataclass(repr=False)
class TransferComparison(Shown):
    """`profile(compare_transfers=True)`: one ProfileResult per transfer path, in the
    order per-step and resident, each pageable then pinned."""

    runs: list[ProfileResult]
    width = 120

    def parts(self) -> Parts:
        from mnist_rules.report.profile_tables import comparison_table

        return [(comparison_table(self.runs), True)]

    def rows(self) -> list[dict[str, Any]]:
        return [run.to_dict() for run in self.runs]

    def to_dict(self) -> dict[str, Any]:
        return {"runs": [run.to_dict() for run in self.runs]}

    def write(self, path) -> None:
        from mnist_rules.atomic import write_json

        write_json(path, self.to_dict())
