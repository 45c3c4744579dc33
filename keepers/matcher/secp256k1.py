"""Just enough secp256k1 to check an Ethereum signature against a known public key fast.

Recovery (ecrecover) in pure Python costs ~7 ms; verifying against a *known* key with
precomputed window tables costs well under 1 ms: R' = u1*G + u2*Q is a sum of table entries
(no doublings), one inversion at the end gives R'.x (must equal r) and the parity of R'.y
(must equal v, or ecrecover would yield another address). Tables: 8-bit windows for G (built
once per process, ~8k points), 4-bit windows for each trader's key (built once per trader and
cached by the caller). Not constant-time: it only ever handles public data.
"""
from __future__ import annotations

P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
GX = 0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798
GY = 0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8


def _add_affine(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    x1, y1 = p1
    x2, y2 = p2
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        lam = 3 * x1 * x1 * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


def _table(point, bits: int) -> list[list]:
    """table[i][d] = d * 2^(bits*i) * point (affine; index 0 is None)."""
    windows = (256 + bits - 1) // bits
    size = 1 << bits
    out = []
    base = point
    for _ in range(windows):
        row = [None]
        acc = None
        for _d in range(1, size):
            acc = _add_affine(acc, base)
            row.append(acc)
        out.append(row)
        nxt = base
        for _ in range(bits):
            nxt = _add_affine(nxt, nxt)
        base = nxt
    return out


def _sum(points):
    """Sum of affine points (None entries skipped) in Jacobian coordinates; affine result or None."""
    X = Y = Z = None
    for pt in points:
        if pt is None:
            continue
        x2, y2 = pt
        if Z is None:
            X, Y, Z = x2, y2, 1
            continue
        zz = Z * Z % P
        u2 = x2 * zz % P
        s2 = y2 * zz * Z % P
        h = (u2 - X) % P
        r = (s2 - Y) % P
        if h == 0:
            if r == 0:  # doubling: rare, do it in affine
                inv = pow(Z, -1, P)
                a = (X * inv * inv % P, Y * inv * inv * inv % P)
                a = _add_affine(a, a)
                if a is None:
                    X = Y = Z = None
                else:
                    X, Y, Z = a[0], a[1], 1
                continue
            X = Y = Z = None  # P + (-P)
            continue
        hh = h * h % P
        hhh = h * hh % P
        v = X * hh % P
        X3 = (r * r - hhh - 2 * v) % P
        Y = (r * (v - X3) - Y * hhh) % P
        X = X3
        Z = Z * h % P
    if Z is None:
        return None
    inv = pow(Z, -1, P)
    inv2 = inv * inv % P
    return X * inv2 % P, Y * inv2 * inv % P


_G_TABLE: list[list] | None = None


def g_table() -> list[list]:
    global _G_TABLE
    if _G_TABLE is None:
        _G_TABLE = _table((GX, GY), 8)
    return _G_TABLE


def key_table(x: int, y: int) -> list[list]:
    """The per-key 4-bit window table (64 x 16 points); build once per trader."""
    return _table((x, y), 4)


def _picks(table, k: int, bits: int):
    mask = (1 << bits) - 1
    i = 0
    while k:
        d = k & mask
        if d:
            yield table[i][d]
        k >>= bits
        i += 1


def verify(z: int, r: int, s: int, v: int, qtable) -> bool:
    """True iff ecrecover(z, v, r, s) is the key behind `qtable` (r, s in range, v in {0, 1})."""
    w = pow(s, -1, N)
    u1, u2 = z % N * w % N, r * w % N
    pts = list(_picks(g_table(), u1, 8))
    pts += _picks(qtable, u2, 4)
    R = _sum(pts)
    if R is None:
        return False
    return R[0] % N == r and (R[1] & 1) == v
