"""What a Ray worker hands the stages for a store: it keeps the writes they ask for, in order,
to be done again by the driver against the real store. Stages only ever write to the store
(rows invisible until the commit); anything else they asked for would be a new need, and fails
by name rather than silently."""

from __future__ import annotations

WRITES = ("ensure_collection", "insert_frame_text")


class RecordingStore:
    def __init__(self):
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name: str):
        if name not in WRITES:
            raise AttributeError(f"a Ray worker's store keeps only writes ({', '.join(WRITES)}), not {name}")

        def record(*args, **kwargs) -> None:
            self.calls.append((name, args, kwargs))

        return record


def replay(calls: list[tuple[str, tuple, dict]], store) -> None:
    """The worker's writes, done on the driver's store in the order the stages made them."""
    for name, args, kwargs in calls:
        getattr(store, name)(*args, **kwargs)
