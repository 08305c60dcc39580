"""Would a learned whitening beat the descriptor's fixed weights? Frame recall of the
picture view (the right catalogue frame, same video within 1 s, among the nearest 1 and
5; a frame scores its best view and orientation, in floating point) with the weights of
src/kernels/descriptor.rs, and with whitening learned from matching pairs (Radenovic et
al.: the pairs' differences whitened, then the catalogue's spread rotated onto its
principal axes), one 64x64 map per half so that a mirror stays a sign flip. Pairs come
from uploads of footage the test sets do not show; each upload frame is paired with the
view and orientation of its true catalogue frame that the fixed weights find most alike.

    cargo run --release --example dump_pairs -- FOOTAGE UPLOADS TRUTH PREFIX   # per set
    python3 scripts/descriptor_whitening.py TRAIN_PREFIX[,...] TEST_PREFIX[,...]
"""
import json
import pathlib
import sys

import numpy as np

DIM = 128
H = 64
V = 12

def load(prefix):
    cm = json.load(open(prefix + ".cat.json"))
    c = np.fromfile(prefix + ".cat.i32", dtype="<i4").reshape(len(cm), V, DIM).astype(np.float64)
    qm = json.load(open(prefix + ".q.json"))
    q = np.fromfile(prefix + ".q.i32", dtype="<i4").reshape(len(qm), DIM).astype(np.float64)
    return c, cm, q, qm

MEAN = None
WEIGHT = None

def read_consts():
    src = open(pathlib.Path(__file__).resolve().parents[1] / "src/kernels/descriptor.rs").read()
    def arr(name):
        s = src.split(f"const {name}: [i32; DIM] = [")[1].split("];")[0]
        return np.array([int(x) for x in s.replace("\n", " ").split(",") if x.strip()], dtype=np.float64)
    return arr("MEAN"), arr("WEIGHT")

def base(x):
    y = (x - MEAN) * WEIGHT
    return y / np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), 1e-9)

def mk_proj(P, mu):
    def f(x):
        y = x - mu
        e = y[..., :H] @ P[0].T
        o = y[..., H:] @ P[1].T
        z = np.concatenate([e, o], axis=-1)
        return z / np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), 1e-9)
    return f

def view_scores(f, c, q, batch=256):
    """Per upload frame (batches of `batch`), its best-orientation similarity to every
    view of every catalogue frame, under the map `f`: arrays of queries x frames x views."""
    cd = f(c)  # N x V x D
    qd = f(q)
    ce = cd[..., :H].reshape(-1, H)
    co = cd[..., H:].reshape(-1, H)
    for s in range(0, len(qd), batch):
        qb = qd[s:s + batch]
        e = qb[:, :H] @ ce.T
        o = qb[:, H:] @ co.T
        yield np.maximum(e + o, e - o).reshape(len(qb), len(c), V)


def right_frames(cm, qm, near=1.0):
    """Per upload frame, which catalogue frames are right: its video, within `near` s."""
    vids = np.array([m[0] for m in cm])
    ts = np.array([m[1] for m in cm])
    return np.stack([(vids == ref) & (np.abs(ts - tr) <= near) for _, ref, tr in qm])


def recall(f, c, cm, q, qm, near=1.0, ks=(1, 5)):
    right = right_frames(cm, qm, near)
    hits = {k: 0 for k in ks}
    n = 0
    for sc in view_scores(f, c, q):
        top = np.argsort(-sc.max(axis=2), axis=1)[:, :max(ks)]
        for row in top:
            ok = right[n, row]
            for k in ks:
                hits[k] += bool(ok[:k].any())
            n += 1
    return {k: hits[k] / max(n, 1) for k in ks}, n

def pairs(c, cm, q, qm):
    """Each query frame with the view (and orientation) of its true frame that the
    current descriptor finds most alike."""
    idx = {}
    for i, (v, t) in enumerate(cm):
        idx.setdefault(v, []).append((t, i))
    cb = base(c)
    qb = base(q)
    Q, C = [], []
    for j, (_, ref, tr) in enumerate(qm):
        if ref not in idx:
            continue
        t, i = min(idx[ref], key=lambda p: abs(p[0] - tr))
        if abs(t - tr) > 0.25:
            continue
        e = cb[i, :, :H] @ qb[j, :H]
        o = cb[i, :, H:] @ qb[j, H:]
        s = np.stack([e + o, e - o])
        m, v = np.unravel_index(np.argmax(s), s.shape)
        x = q[j].copy()
        if m == 1:
            x[H:] = -x[H:]
        Q.append(x)
        C.append(c[i, v])
    return np.array(Q), np.array(C)

def inv_sqrt(C, eps):
    w, U = np.linalg.eigh(C)
    w = np.maximum(w, eps * w.max())
    return U @ np.diag(w ** -0.5) @ U.T

def fit(c, Q, C, eps=1e-3, shrink=0.0, dims=H):
    allc = c.reshape(-1, DIM)
    mir = allc.copy(); mir[:, H:] *= -1
    X = np.concatenate([allc, mir])
    mu = X.mean(axis=0); mu[H:] = 0
    Ps = []
    for sl in (slice(0, H), slice(H, DIM)):
        D = (Q[:, sl] - C[:, sl])
        CS = D.T @ D / len(D)
        CS = (1 - shrink) * CS + shrink * np.diag(np.diag(CS))
        P1 = inv_sqrt(CS, eps)
        Y = (X[:, sl] - mu[sl]) @ P1.T
        CD = Y.T @ Y / len(Y)
        w, U = np.linalg.eigh(CD)
        order = np.argsort(-w)
        E = U[:, order[:dims]]
        Ps.append(E.T @ P1)
    return Ps, mu

if __name__ == "__main__":
    MEAN, WEIGHT = read_consts()
    train = [load(p) for p in sys.argv[1].split(",")]
    tests = {p: load(p) for p in sys.argv[2].split(",")}
    Qs, Cs, cats = [], [], []
    for c, cm, q, qm in train:
        Q, C = pairs(c, cm, q, qm)
        Qs.append(Q); Cs.append(C); cats.append(c)
    Q = np.concatenate(Qs); C = np.concatenate(Cs)
    print("training pairs", len(Q), file=sys.stderr)
    call = np.concatenate(cats)
    for name, (c, cm, q, qm) in tests.items():
        r, n = recall(base, c, cm, q, qm)
        print(name, "baseline", n, r)
    for eps in [1e-3, 1e-2]:
        for shrink in [0.0, 0.3]:
            P, mu = fit(call, Q, C, eps=eps, shrink=shrink)
            f = mk_proj(P, mu)
            for name, (c, cm, q, qm) in tests.items():
                r, n = recall(f, c, cm, q, qm)
                print(name, f"lw eps={eps} shrink={shrink}", n, r)
