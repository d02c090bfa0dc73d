"""Rotary position embedding (RoPE) in the plane, computed in the reader's browser.

Display code only (anywidget). The numbers the Python side states come from
`lalib.positions`; the ES module (``js/rope.js``) recomputes the same numbers with
``js/lamath.js`` (``ropeRotate``, ``ropePairScores``) whenever the reader acts, in
Jupyter and in the static book alike.
"""

import numpy as np
import traitlets

from lalib import positions
from lalib.display.explorable import JS_DIR, Array, Explorable

D = 8  #: width of the query and the key: 4 pairs, 4 frequencies
MAX_POSITION = 31  #: positions 0..31, offsets n - m from -31 to 31
BASES = (10000.0, 100.0)  #: the usual base, and a small one whose slow pairs turn too

#: The default query and key: small fixed numbers (the printed terms stay legible), and
#: alike, so the score is largest at offset 0 and the strip shows how it falls away.
DEFAULT_Q = np.array([1.0, 0.5, 0.8, -0.6, 0.7, 0.7, -0.5, 0.9])
DEFAULT_K = np.array([0.9, 0.6, 0.7, -0.5, 0.8, 0.6, -0.4, 1.0])


def _number(v, digits=3):
    """A number for a sentence: `digits` decimals, no "-0"."""
    text = f"{float(v):.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


class RopeExplorer(Explorable):
    """A query at position m and a key at position n, rotated pair by pair.

    RoPE turns each pair of coordinates ``(2i, 2i + 1)`` of a vector at position p by
    the angle ``p * theta_i`` (`lalib.positions.rope_matrix`), so the score of a query
    at m and a key at n is ``(R(m) q) . (R(n) k) = q . R(n - m) k``: it depends on the
    offset ``n - m`` alone. The reader moves m and n (sliders, arrow keys), picks the
    pair drawn in the plane and the base, and presses "Shift both" (or Play): the
    arrows turn together, the angle between them and the score stay.

    Parameters
    ----------
    q, k : array_like, shape (8,), optional
        The query and the key before rotation; `DEFAULT_Q` and `DEFAULT_K` by default.
    m, n : int
        Positions of the query and the key, 0 to 31.
    pair : int
        The pair of coordinates (0 to 3) drawn in the plane.
    base : {10000.0, 100.0}
        RoPE's base: ``theta_i = base ** (-2 i / 8)``.

    Attributes
    ----------
    q, k : ndarray, shape (8,)
    m, n, pair : int
    base : float
        Synced both ways: setting them from Python redraws.

    Examples
    --------
    >>> explorer = RopeExplorer(m=3, n=7)
    >>> round(explorer.score(), 3) == round(RopeExplorer(m=10, n=14).score(), 3)
    True
    """

    _module = "rope.js"
    q = Array((D,), default_value=DEFAULT_Q)
    k = Array((D,), default_value=DEFAULT_K)
    m = traitlets.Int(3).tag(sync=True)
    n = traitlets.Int(7).tag(sync=True)
    pair = traitlets.Int(0).tag(sync=True)
    base = traitlets.Float(BASES[0]).tag(sync=True)
    bases = traitlets.List(list(BASES)).tag(sync=True)

    def __init__(self, q=None, k=None, m=3, n=7, pair=0, base=BASES[0]):
        kwargs = {"m": m, "n": n, "pair": pair, "base": base}
        if q is not None:
            kwargs["q"] = q
        if k is not None:
            kwargs["k"] = k
        super().__init__(**kwargs)

    @traitlets.validate("m", "n")
    def _valid_position(self, proposal):
        p, name = proposal["value"], proposal["trait"].name
        if not 0 <= p <= MAX_POSITION:
            raise ValueError(f"{name} must be a position 0..{MAX_POSITION}, got {p}")
        return p

    @traitlets.validate("pair")
    def _valid_pair(self, proposal):
        i = proposal["value"]
        if not 0 <= i < D // 2:
            raise ValueError(f"pair must be 0..{D // 2 - 1} (d = {D}), got {i}")
        return i

    @traitlets.validate("base")
    def _valid_base(self, proposal):
        b = float(proposal["value"])
        if b not in BASES:
            choices = " or ".join(f"{x:g}" for x in BASES)
            raise ValueError(f"base must be {choices}, got {proposal['value']}")
        return b

    @property
    def offset(self):
        """n - m, the only thing the score depends on."""
        return self.n - self.m

    def frequencies(self):
        """theta_i, shape (4,): `lalib.positions.rope_frequencies`."""
        return positions.rope_frequencies(D, self.base)

    def rotated(self):
        """(R(m) q, R(n) k), each shape (8,), with `lalib.positions.rope_matrix`."""
        Rm = positions.rope_matrix(self.m, D, self.base)  # (8, 8)
        Rn = positions.rope_matrix(self.n, D, self.base)
        return Rm @ self.q, Rn @ self.k

    def contributions(self):
        """The score pair by pair, shape (4,): the dot product of rotated pair i."""
        qm, kn = self.rotated()
        return (qm * kn).reshape(D // 2, 2).sum(axis=1)  # (8,) -> (4, 2) -> (4,)

    def score(self):
        """q_m . k_n = (R(m) q) . (R(n) k), the sum of `contributions`."""
        qm, kn = self.rotated()
        return float(qm @ kn)

    def pair_angles(self):
        """The angle from rotated pair i of q to that of k, in radians in (-pi, pi],
        shape (4,): the unrotated angle plus (n - m) theta_i, wrapped."""
        qm, kn = self.rotated()
        a = np.arctan2(kn[1::2], kn[0::2]) - np.arctan2(qm[1::2], qm[0::2])
        wrapped = np.angle(np.exp(1j * a))  # into [-pi, pi]
        return np.where(wrapped <= -np.pi, wrapped + 2 * np.pi, wrapped)

    def scores_by_offset(self):
        """(offsets, scores): every offset -31..31 and the score of a query and key
        that far apart, each shape (63,), by `lalib.positions.rope` on positions
        ``max(0, -offset)`` and ``max(0, -offset) + offset``."""
        offsets = np.arange(-MAX_POSITION, MAX_POSITION + 1)
        m = np.maximum(0, -offsets)  # (63,)
        qs = positions.rope(np.tile(self.q, (len(offsets), 1)), m, self.base)
        ks = positions.rope(np.tile(self.k, (len(offsets), 1)), m + offsets, self.base)
        return offsets, np.einsum("od,od->o", qs, ks)  # (63, 8) . (63, 8) -> (63,)

    def describe(self):
        i = self.pair
        terms = " + ".join(_number(c) for c in self.contributions())
        return (
            f"RopeExplorer: d = {D}, base {self.base:g}; query at m = {self.m}, key "
            f"at n = {self.n} (offset {self.offset}); pair {i} (theta = "
            f"{_number(self.frequencies()[i], 4)}) at angle "
            f"{_number(self.pair_angles()[i], 2)} rad; score q_m . k_n = {terms} = "
            f"{_number(self.score())}"
        )


RopeExplorer._css = RopeExplorer._css + (JS_DIR / "rope.css").read_text(
    encoding="utf-8"
)
