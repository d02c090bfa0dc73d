"""LayerNorm of a row of width 3 as a projection and a scaling, computed in the
reader's browser.

Display code only (anywidget). The numbers the Python side states come from
`lalib.transformer` (`centering_matrix`, `layer_norm`); the ES module
(``js/layernorm.js``) recomputes the same numbers with ``js/lamath.js``
(``layerNorm``) whenever the reader acts, in Jupyter and in the static book alike.
"""

import numpy as np
import traitlets

from lalib import transformer
from lalib.display.explorable import JS_DIR, Array, Explorable
from lalib.display.transformer import PLANE_BASIS

D = 3  #: the width of the row: its centred version lies in a plane
EPS = 1e-5  #: LayerNorm's eps, `lalib.transformer.layer_norm`'s default
LIMIT = 3.0  #: each entry of x, and the shift c, lie in [-3, 3]
SCALES = (0.25, 4.0)  #: the smallest and the largest scale s

#: The default row: unequal entries, so its centred version is well away from 0.
DEFAULT_X = np.array([2.0, 0.5, -0.4])


def _number(v, digits=3):
    """A number for a sentence: `digits` decimals, no "-0"."""
    text = f"{float(v):.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _vector(v, digits=3):
    return "(" + ", ".join(_number(t, digits) for t in v) + ")"


class LayerNormExplorer(Explorable):
    """LayerNorm of z = s x + c 1 (d = 3, gamma = 1, beta = 0), seen in the plane
    z1 + z2 + z3 = 0.

    LayerNorm centres the row with the projection ``P = I - 1 1^T / 3``
    (`lalib.transformer.centering_matrix`) and divides by
    ``sigma = sqrt(|P z|^2 / 3 + eps)``, which puts it on the circle of radius
    ``sqrt(3)`` in that plane (up to eps). The reader moves x1, x2, x3 (sliders, arrow
    keys) and presses "Add 1 to every entry" (c grows by 1: ``P 1 = 0``, so P z does not
    move) and "Double x" (s doubles: P z slides out along its ray, the division undoes
    it): LN(z) stays. The plane is drawn in the orthonormal basis
    ``u = (1, -1, 0) / sqrt(2)``, ``v = (1, 1, -2) / sqrt(6)``
    (`lalib.display.transformer.PLANE_BASIS`).

    Parameters
    ----------
    x : array_like, shape (3,), optional
        The row the sliders set, each entry in [-3, 3]; `DEFAULT_X` by default.
    shift : float
        c, added to every entry, in [-3, 3].
    scale : float
        s, the factor x is multiplied by, in [0.25, 4].

    Attributes
    ----------
    x : ndarray, shape (3,)
    shift, scale : float
        Synced both ways: setting them from Python redraws.

    Examples
    --------
    >>> explorer = LayerNormExplorer()
    >>> moved = LayerNormExplorer(shift=1.0, scale=2.0)
    >>> bool(np.allclose(explorer.normalised(), moved.normalised(), atol=1e-5))
    True
    """

    _module = "layernorm.js"
    x = Array((D,), default_value=DEFAULT_X)
    shift = traitlets.Float(0.0).tag(sync=True)
    scale = traitlets.Float(1.0).tag(sync=True)
    eps = traitlets.Float(EPS, read_only=True).tag(sync=True)

    def __init__(self, x=None, shift=0.0, scale=1.0):
        kwargs = {"shift": shift, "scale": scale}
        if x is not None:
            kwargs["x"] = x
        super().__init__(**kwargs)

    @traitlets.validate("x")
    def _valid_x(self, proposal):
        x = proposal["value"]  # already (3,) and finite: the Array trait checks that
        if np.abs(x).max() > LIMIT:
            raise ValueError(
                f"x must have entries in [-{LIMIT:g}, {LIMIT:g}], got {_vector(x, 2)}"
            )
        return x

    @traitlets.validate("shift")
    def _valid_shift(self, proposal):
        c = float(proposal["value"])
        if not -LIMIT <= c <= LIMIT:
            raise ValueError(f"shift must be in [-{LIMIT:g}, {LIMIT:g}], got {c}")
        return c

    @traitlets.validate("scale")
    def _valid_scale(self, proposal):
        s = float(proposal["value"])
        if not SCALES[0] <= s <= SCALES[1]:
            raise ValueError(
                f"scale must be in [{SCALES[0]:g}, {SCALES[1]:g}], got {s}"
            )
        return s

    def row(self):
        """z = s x + c 1, shape (3,): the row LayerNorm gets."""
        return self.scale * self.x + self.shift

    def centred(self):
        """P z, shape (3,), with `lalib.transformer.centering_matrix`."""
        return transformer.centering_matrix(D) @ self.row()  # (3, 3) @ (3,)

    def sigma(self):
        """``sqrt(|P z|^2 / 3 + eps)``: what LayerNorm divides P z by."""
        return float(np.sqrt(self.centred() @ self.centred() / D + EPS))

    def normalised(self):
        """LN(z), shape (3,): `lalib.transformer.layer_norm` with gamma 1, beta 0."""
        z = self.row()[None]  # (1, 3)
        return transformer.layer_norm(z, np.ones(D), np.zeros(D), EPS)[0]

    def is_constant(self):
        """True when every entry of z is equal: P z = 0, LN(z) = 0."""
        z = self.row()
        return bool(np.all(z == z[0]))

    def plane_coords(self):
        """P z and LN(z) in the basis (u, v) of the plane: shape (2, 2), one row each
        (both lie in the plane, so two coordinates say all)."""
        return np.stack([self.centred(), self.normalised()]) @ PLANE_BASIS.T

    def describe(self):
        z, pz, out = self.row(), self.centred(), self.normalised()
        head = (
            f"LayerNormExplorer: x = {_vector(self.x, 2)}, z = "
            f"{_number(self.scale, 2)} x + {_number(self.shift, 2)} = {_vector(z)}; "
            f"mean {_number(z.mean())}"
        )
        if self.is_constant():
            return head + "; all entries equal: P z = 0 and LN(z) = 0 (up to eps)"
        return (
            f"{head}; P z = {_vector(pz)}, |P z| = {_number(np.linalg.norm(pz))}, "
            f"sigma = {_number(self.sigma())}; LN(z) = {_vector(out)}, sum "
            f"{_number(out.sum())}, norm {_number(np.linalg.norm(out))}"
        )


LayerNormExplorer._css = LayerNormExplorer._css + (JS_DIR / "layernorm.css").read_text(
    encoding="utf-8"
)
