"""Topic names and their configurations: the one place both sides of the log take them from."""

from __future__ import annotations

from dataclasses import dataclass, field

SUBMITTED = "qc.submitted"
RESULTS = "qc.results"
DEAD_LETTER = "qc.deadletter"
CANCELLATIONS = "qc.cancellations"

#: Seven days of submissions are kept for replays; results are compacted and kept forever.
SUBMITTED_RETENTION_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Topics:
    """The service's topic names, optionally prefixed (tests and side-by-side deployments)."""

    submitted: str = SUBMITTED
    results: str = RESULTS
    dead_letter: str = DEAD_LETTER
    cancellations: str = CANCELLATIONS

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        return cls(*(prefix + name for name in (SUBMITTED, RESULTS, DEAD_LETTER, CANCELLATIONS)))

    def specs(self) -> list[TopicSpec]:
        """Every topic with the settings it is created with."""
        return [
            TopicSpec(
                self.submitted,
                {"cleanup.policy": "delete", "retention.ms": str(SUBMITTED_RETENTION_MS)},
            ),
            TopicSpec(
                self.results,
                {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"},
            ),
            TopicSpec(self.dead_letter, {"cleanup.policy": "delete"}),
            # Control state: kept (compacted, one record per task) so that a view rebuilt
            # from the log has every cancellation and withdrawal.
            TopicSpec(
                self.cancellations,
                {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"},
            ),
        ]

    def view_sources(self) -> list[str]:
        """The topics the Redis view is built from (by the materializer and rebuild-view)."""
        return [self.submitted, self.results, self.cancellations]
