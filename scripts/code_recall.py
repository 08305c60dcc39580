"""Could the index lists hold compressed codes instead of the 128-byte descriptors
(issue 17: 3 GB at 1,000 catalogue hours is about 11 bytes per stored descriptor)?
Recall of the exact top 16 (cosine) when a catalogue's view descriptors are scored only
through codes, with no exact re-rank: product quantisation of the residuals from each
descriptor's index cluster (M bytes, 256 centroids per sub-vector, asymmetric distance),
and scalar quantisation to 4, 3 and 2 bits per coefficient. Queries are dev upload
pictures (raw coefficients from examples/dump_pairs, centred and weighted as
src/kernels/descriptor.rs does), 400 of them sampled.

    cargo run --release --example dump_pairs -- ../shared/footage/catalogue \
        ../shared/bench/dev/queries ../shared/bench/dev/ground_truth.csv /tmp/dev
    python3 scripts/code_recall.py /tmp/dev CATALOG [PQ_BYTES=8,16,32]

CATALOG: a catalogue folder, such as a scale catalogue of benches/scale.sh (h10).
Prints a table and writes it to docs/CODES.md.
"""
import glob
import sys
from pathlib import Path

import numpy as np

DIM, K = 128, 16
rng = np.random.default_rng(0)


def mapped_arrays(path):
    """The arrays of a file of store::served's layout: (start, length) in bytes."""
    b = open(path, "rb").read()
    word = lambda i: int.from_bytes(b[8 + 8 * i:16 + 8 * i], "little")
    n = word(0)
    return b, [(word(n + 2 + 2 * k), word(n + 3 + 2 * k)) for k in range(word(n + 1))]


def view_lists(cat):
    """Every listed view descriptor (int8) and its cluster."""
    words, clusters = [], []
    for p in sorted(glob.glob(f"{cat}/index/lists-*.bin")):
        b, ((o0, ol), _, _, (w0, wl), _) = mapped_arrays(p)
        offsets = np.frombuffer(b, dtype="<u8", count=ol // 8, offset=o0).astype(np.int64)
        words.append(np.frombuffer(b, dtype=np.int8, count=wl, offset=w0).reshape(-1, DIM))
        clusters.append(np.repeat(np.arange(len(offsets) - 1), np.diff(offsets)))
    return np.concatenate(words), np.concatenate(clusters)


def constants():
    src = (Path(__file__).resolve().parents[1] / "src/kernels/descriptor.rs").read_text()
    arr = lambda name: np.array([int(x) for x in src.split(f"const {name}: [i32; DIM] = [")[1].split("];")[0]
                                 .replace("\n", " ").split(",") if x.strip()], dtype=np.float64)
    return arr("MEAN"), arr("WEIGHT")


def unit(x):
    x = x.astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def top(q, n, scores, chunk=500_000):
    """The K best of n catalogue descriptors per query, scored chunk by chunk."""
    best_s, best_i = np.full((len(q), K), -9.0, np.float32), np.zeros((len(q), K), np.int64)
    for s in range(0, n, chunk):
        sc = scores(s, min(n, s + chunk))
        idx = np.argpartition(-sc, K, axis=1)[:, :K]
        cs = np.concatenate([best_s, np.take_along_axis(sc, idx, 1)], 1)
        ci = np.concatenate([best_i, idx + s], 1)
        o = np.argsort(-cs, 1)[:, :K]
        best_s, best_i = np.take_along_axis(cs, o, 1), np.take_along_axis(ci, o, 1)
    return best_i


def recall(exact, approx):
    return np.mean([len(set(e) & set(a)) / K for e, a in zip(exact, approx)])


def kmeans(x, k, iterations=12):
    c = x[rng.choice(len(x), k, replace=False)].copy()
    for _ in range(iterations):
        a = ((c ** 2).sum(1)[None] - 2 * x @ c.T).argmin(1)
        for j in range(k):
            if (a == j).any():
                c[j] = x[a == j].mean(0)
    return c


def main():
    dump, cat = sys.argv[1], sys.argv[2]
    pq_bytes = [int(v) for v in (sys.argv[3] if len(sys.argv) > 3 else "8,16,32").split(",")]
    mean, weight = constants()
    raw = np.fromfile(dump + ".q.i32", dtype="<i4").reshape(-1, DIM).astype(np.float64)
    q = unit((raw - mean) * weight)
    q = q[rng.choice(len(q), min(400, len(q)), replace=False)]
    words, clusters = view_lists(cat)
    x = unit(words)
    exact = top(q, len(x), lambda a, b: q @ x[a:b].T)
    rows = []

    def row(codes, size, approx):
        rows.append(f"| {codes} | {size} | {recall(exact, approx):.3f} |")
        print(rows[-1], flush=True)
    for bits in (4, 3, 2):
        levels = 2 ** (bits - 1)
        scale = np.percentile(np.abs(x[::50]), 99.9, axis=0) / (levels - 0.5)
        xq = ((np.clip(np.round(x / scale - 0.5), -levels, levels - 1) + 0.5) * scale).astype(np.float32)
        row(f"scalar, {bits} bits a coefficient", bits * DIM // 8, top(q, len(x), lambda a, b: q @ xq[a:b].T))
    n_clusters = clusters.max() + 1
    centroids = np.zeros((n_clusters, DIM), np.float32)
    np.add.at(centroids, clusters, x)
    centroids /= np.maximum(np.bincount(clusters, minlength=n_clusters)[:, None], 1)
    residual = x - centroids[clusters]
    to_centroid = q @ centroids.T
    for m in pq_bytes:
        d = DIM // m
        sample = residual[rng.choice(len(residual), min(60_000, len(residual)), replace=False)]
        books = [kmeans(sample[:, j * d:(j + 1) * d], 256) for j in range(m)]
        codes = np.stack([np.concatenate([
            ((b ** 2).sum(1)[None] - 2 * residual[s:s + 500_000, j * d:(j + 1) * d] @ b.T).argmin(1)
            for s in range(0, len(residual), 500_000)]) for j, b in enumerate(books)], 1).astype(np.uint8)
        tables = [q[:, j * d:(j + 1) * d] @ b.T for j, b in enumerate(books)]

        def scores(a, b):
            s = to_centroid[:, clusters[a:b]].copy()
            for j in range(m):
                s += tables[j][:, codes[a:b, j]]
            return s

        row(f"product, {m} sub-vectors of 256 centroids", m, top(q, len(x), scores))
    doc = Path(__file__).resolve().parents[1] / "docs/CODES.md"
    doc.write_text(f"""# Compressed codes in the index lists

Written by `python3 scripts/code_recall.py` (do not edit by hand; the commands are in its
header). Could the index lists hold codes instead of the 128-byte view descriptors? At
1,000 catalogue hours, 3 GB is about 11 bytes a stored descriptor (25 a frame: 12 views,
11 strips, a band and a half). Recall of the exact top 16 (cosine) of {len(q)} dev upload
pictures among the {len(x):,} view descriptors of `{Path(cat).name}`, each scored only
through its code, without an exact re-rank: scalar codes, and product codes of the
residual from the descriptor's index cluster (asymmetric distances).

| code | bytes a descriptor | recall of the exact top 16 |
|---|---|---|
""" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
