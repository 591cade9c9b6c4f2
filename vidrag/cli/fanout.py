"""`vidrag add --ray`: files indexed in parallel on Ray workers, as many at once as there are
workers; each file's line is printed as it is done (no progress bars: the stages run elsewhere)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed


def add_in_parallel(ingestor, files) -> int:
    """Add every file (a path or a URL, downloaded here); returns how many failed."""
    from vidrag.cli.library import _add_url, report_added

    def one(path):
        if isinstance(path, str):
            return _add_url(None, ingestor, path, _NoBars())
        return ingestor.add(path)

    failed = 0
    with ThreadPoolExecutor(max_workers=ingestor.workers.size) as pool:
        futures = {pool.submit(one, path): path for path in files}
        for future in as_completed(futures):
            path = futures[future]
            failed += not report_added(path if isinstance(path, str) else path.name, future.result)
    return failed


class _NoBars:
    def update(self, stage: str, done: float, total: float) -> None:
        pass
