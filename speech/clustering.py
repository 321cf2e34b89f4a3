"""Clustering the speaker encoder's window embeddings into speakers (diarization.py's second
half): average linkage on cosine distance, smoothing, small clusters absorbed, and names, a
known speaker's or "A", "B", ... in the order in which they first speak."""

from __future__ import annotations

import string

import numpy as np

FRAME_SECONDS = 0.01  # one mel frame every 10 ms
HOP_SECONDS = 0.75
# A cluster takes a known speaker's name when its centroid is at least this similar to the
# speaker's reference embedding (the closest pairs first: one name per cluster and one cluster
# per name). A reference and a cluster of its voice are 0.6-0.9 alike, of another voice under
# 0.4.
KNOWN_SIMILARITY = 0.5
# A cluster with less speech than this must show it is a speaker of its own (a short answer)
# and not a few stray windows of another voice (a cough, a window across a change of speaker):
# its centroid must be less similar than SAME_VOICE_SIMILARITY to every other, else its windows
# join the closest other cluster. How long its turns are does not count: a speaker may say one
# word. The threshold lies between a noisy voice's second turn and its first (0.38, jfk.flac)
# and a speaker's single short turn and the others (under 0.3 in `tools.speaker_mixes`).
SMALLEST_SPEAKER_SECONDS = 2.0
SAME_VOICE_SIMILARITY = 0.35


def _average_linkage(vectors: np.ndarray) -> list[tuple[float, int, int]]:
    """The merges (distance, a, b) of average-linkage clustering on cosine distance, by the
    nearest-neighbour chain (O(n^2)): for unit vectors the average similarity of two
    clusters is the dot product of their sums over the product of their sizes."""
    n = len(vectors)
    sums = vectors.astype(np.float64).copy()
    sizes = np.ones(n)
    active = np.ones(n, dtype=bool)
    merges: list[tuple[float, int, int]] = []
    chain: list[int] = []
    remaining = n
    while remaining > 1:
        if not chain:
            chain.append(int(np.flatnonzero(active)[0]))
        a = chain[-1]
        similarity = sums @ sums[a] / (sizes * sizes[a])
        similarity[~active] = -np.inf
        similarity[a] = -np.inf
        b = int(np.argmax(similarity))
        if len(chain) > 1 and similarity[chain[-2]] >= similarity[b]:
            b = chain[-2]
        if len(chain) > 1 and b == chain[-2]:
            chain.pop()
            chain.pop()
            merges.append((1.0 - float(similarity[b]), a, b))
            sums[a] += sums[b]
            sizes[a] += sizes[b]
            active[b] = False
            remaining -= 1
        else:
            chain.append(b)
    return merges


def cluster(vectors: np.ndarray, threshold: float, max_clusters: int) -> np.ndarray:
    """A cluster index per vector: merges closer than the threshold, then more until at most
    max_clusters are left."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0, dtype=int)
    merges = sorted(_average_linkage(vectors))
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    clusters = n
    for distance, a, b in merges:
        if distance >= threshold and clusters <= max_clusters:
            break
        parent[root(b)] = root(a)
        clusters -= 1
    roots = [root(i) for i in range(n)]
    numbering = {r: k for k, r in enumerate(dict.fromkeys(roots))}
    return np.array([numbering[r] for r in roots])


def smooth(labels: np.ndarray, groups: list[int]) -> np.ndarray:
    """Within a stretch of speech, a window whose neighbours on both sides agree with each
    other but not with it takes their label (one 1.5 s window is too short for a turn)."""
    labels = labels.copy()
    for i in range(1, len(labels) - 1):
        same_stretch = groups[i - 1] == groups[i] == groups[i + 1]
        if same_stretch and labels[i - 1] == labels[i + 1] != labels[i]:
            labels[i] = labels[i - 1]
    return labels


def absorb_small(
    vectors: np.ndarray, labels: np.ndarray, windows: list[tuple[int, int]]
) -> np.ndarray:
    """Clusters given less than SMALLEST_SPEAKER_SECONDS of speech (a window counts for its
    hop), smallest first, join the cluster whose centroid is closest to theirs, unless they
    sound like no other (SAME_VOICE_SIMILARITY)."""
    labels = labels.copy()
    hop = round(HOP_SECONDS / FRAME_SECONDS)
    share = np.array([min(last - first, hop) for first, last in windows]) * FRAME_SECONDS
    kept: set[int] = set()
    while True:
        present = [int(k) for k in np.unique(labels)]
        candidates = [k for k in present if k not in kept]
        if len(present) < 2 or not candidates:
            return labels
        sizes = {k: float(share[labels == k].sum()) for k in candidates}
        smallest = min(candidates, key=lambda k: sizes[k])
        if sizes[smallest] >= SMALLEST_SPEAKER_SECONDS:
            return labels
        centroids = {k: vectors[labels == k].mean(axis=0) for k in present}
        own = centroids[smallest] / np.linalg.norm(centroids[smallest])
        others = [k for k in present if k != smallest]
        similarity = {k: float(centroids[k] @ own) / np.linalg.norm(centroids[k]) for k in others}
        closest = max(others, key=lambda k: similarity[k])
        if similarity[closest] < SAME_VOICE_SIMILARITY:
            kept.add(smallest)
        else:
            labels[labels == smallest] = closest


def relabel(scores: np.ndarray, groups: list[int], penalty: float) -> np.ndarray:
    """A label per window, given each window's score for every label (windows in time order,
    grouped by stretch of speech): within each stretch, the sequence of labels with the
    highest total score less `penalty` per change of label (Viterbi)."""
    labels = np.zeros(len(scores), dtype=int)
    if len(scores) == 0:
        return labels
    bounds = np.flatnonzero(np.diff(np.asarray(groups))) + 1
    for run in np.split(np.arange(len(scores)), bounds):
        best = scores[run[0]].astype(np.float64)
        back = np.zeros((len(run), scores.shape[1]), dtype=int)
        for step, index in enumerate(run[1:], 1):
            # Staying on a label is free; coming from the best other label costs the penalty.
            leader = int(np.argmax(best))
            switch = best[leader] - penalty
            stay = best >= switch
            back[step] = np.where(stay, np.arange(len(best)), leader)
            best = np.where(stay, best, switch) + scores[index]
        label = int(np.argmax(best))
        for step in range(len(run) - 1, -1, -1):
            labels[run[step]] = label
            label = back[step][label]
    return labels


def cluster_centroids(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    count = int(labels.max()) + 1 if len(labels) else 0
    centroids = np.zeros((count, vectors.shape[1]), dtype=np.float64)
    for k in range(count):
        mean = vectors[labels == k].mean(axis=0)
        centroids[k] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return centroids


def speaker_names(
    centroids: np.ndarray, first_seen: list[float], known: dict[str, np.ndarray] | None
) -> list[str]:
    """A name per cluster: the known speaker it matches, else a letter by first appearance."""
    names: list[str | None] = [None] * len(centroids)
    if known:
        references = list(known.items())
        matrix = np.array([np.asarray(v, dtype=np.float64).reshape(-1) for _, v in references])
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        similarity = centroids @ matrix.T  # clusters x known
        # The closest pairs first, one cluster per name and one name per cluster.
        used: set[int] = set()
        for flat in np.argsort(-similarity, axis=None):
            k, r = divmod(int(flat), len(references))
            if similarity[k, r] < KNOWN_SIMILARITY:
                break
            if names[k] is None and r not in used:
                names[k] = references[r][0]
                used.add(r)
    letters = _letters()
    taken = {name for name in names if name}
    for k in sorted(range(len(centroids)), key=lambda k: first_seen[k]):
        if names[k] is None:
            name = next(letters)
            while name in taken:
                name = next(letters)
            names[k] = name
    return [str(name) for name in names]


def _letters():
    """A, B, ..., Z, AA, AB, ..."""
    size = 1
    while True:
        for index in np.ndindex(*([26] * size)):
            yield "".join(string.ascii_uppercase[i] for i in index)
        size += 1
