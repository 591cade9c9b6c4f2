"""A small error hierarchy. Raised inside, turned into one line only at the edge (CLI, app)."""


class VidragError(Exception):
    """Anything a user can act on. The message is one line, meant to be shown as it is."""


class IngestError(VidragError):
    """A file could not be indexed: missing, empty, not a media file, corrupt."""


class ClusterLostError(IngestError):
    """The Ray cluster (or every retry of a worker) went away mid-ingest. Nothing was written;
    the same add can be made again once the cluster is back (the server's queue does so)."""


class StoreError(VidragError):
    """The Milvus store is unreachable, locked, or holds something we can't use."""


class StoreLockedError(StoreError):
    """Another process holds the Milvus Lite database."""


class ModelMismatchError(StoreError):
    """The configured embedding model differs from the one a collection was built with."""


class ModelLoadError(VidragError):
    """A model could not be found or loaded from the configured name or path."""


class AnswerError(VidragError):
    """The VLM could not answer: unreachable, an error, a timeout, a stream cut half way.
    The retrieved moments are still there to show."""


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, for wrapping third-party errors in ours."""
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
