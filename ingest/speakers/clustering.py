"""Voice vectors grouped into speakers; how many is estimated, not given. Pure.

The pieces of speech (about 1.6 s each, ingest/speakers/pieces.py) are clustered by average
linkage on cosine distance, cut where the two closest groups are less alike than SAME_VOICE:
two pieces of one espeak-ng voice score 0.80-0.89 on average, two voices 0.47-0.76, and the
mean of a group of pieces is steadier than any piece. A group with less than MIN_SPEAKER_S of
speech is one odd piece (a cough, a laugh, a word under the music), not a person: it joins the
group it is nearest. BENCHMARKS.md, "Speakers", has the alternative (spectral clustering with
the eigengap) side by side.

Average linkage needs every pair's distance: above MAX_CLUSTERED pieces (over an hour of talk)
an even sample is clustered, and every piece then joins the nearest speaker.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SAME_VOICE = 0.70  # cosine similarity of two groups' pieces, on average, above which they are one voice
MIN_SPEAKER_S = 3.0  # of speech, for a group to be a speaker of its own
MAX_CLUSTERED = 2000  # pieces clustered together; the rest are assigned


def cluster_voices(vectors: np.ndarray, seconds: Sequence[float], method: str = "average",
                   same_voice: float = SAME_VOICE) -> np.ndarray:
    """A speaker number (0, 1, ...) per vector (rows L2-normed); `seconds`: each piece's speech."""
    count = len(vectors)
    if count == 0:
        return np.zeros(0, dtype=int)
    if count == 1:
        return np.zeros(1, dtype=int)
    seconds = np.asarray(seconds, dtype=float)
    sample = np.arange(count)
    if count > MAX_CLUSTERED:
        sample = np.linspace(0, count - 1, MAX_CLUSTERED).round().astype(int)
    if method == "spectral":
        labels = _spectral(vectors[sample])
    else:
        labels = _average_linkage(vectors[sample], same_voice)
    labels = _drop_small(vectors[sample], labels, seconds[sample] * (count / len(sample)))
    centroids = _centroids(vectors[sample], labels)
    return np.argmax(vectors @ centroids.T, axis=1)


def _average_linkage(vectors: np.ndarray, same_voice: float) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage

    distances = np.clip(1.0 - vectors @ vectors.T, 0.0, 2.0)
    condensed = distances[np.triu_indices(len(vectors), k=1)]
    tree = linkage(condensed, method="average")
    return fcluster(tree, t=1.0 - same_voice, criterion="distance") - 1


def _spectral(vectors: np.ndarray, most: int = 8) -> np.ndarray:
    """Spectral clustering, its count from the largest gap between the affinity's eigenvalues."""
    from sklearn.cluster import SpectralClustering

    affinity = np.clip(vectors @ vectors.T, 0.0, 1.0)
    degree = affinity.sum(axis=1)
    laplacian = np.eye(len(vectors)) - affinity / np.sqrt(np.outer(degree, degree))
    eigenvalues = np.sort(np.linalg.eigvalsh(laplacian))[: min(most, len(vectors) - 1) + 1]
    count = int(np.argmax(np.diff(eigenvalues))) + 1
    if count == 1:
        return np.zeros(len(vectors), dtype=int)
    return SpectralClustering(count, affinity="precomputed", random_state=0).fit_predict(affinity)


def _drop_small(vectors: np.ndarray, labels: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Groups with less than MIN_SPEAKER_S of speech joined to their nearest larger group (all
    kept when none is that large: a file of a few words still has its speaker)."""
    labels = labels.copy()
    while True:
        groups = np.unique(labels)
        sizes = np.array([seconds[labels == g].sum() for g in groups])
        if len(groups) == 1 or sizes.min() >= MIN_SPEAKER_S or sizes.max() < MIN_SPEAKER_S:
            return labels
        smallest = groups[int(np.argmin(sizes))]
        others = [g for g in groups if g != smallest]
        centroids = _centroids(vectors, labels)
        mean = centroids[list(groups).index(smallest)]
        nearest = max(others, key=lambda g: float(centroids[list(groups).index(g)] @ mean))
        labels[labels == smallest] = nearest


def _centroids(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """One normed mean vector per label, in the order of np.unique(labels)."""
    means = np.stack([vectors[labels == g].mean(axis=0) for g in np.unique(labels)])
    return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
