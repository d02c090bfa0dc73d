"""The catalogue behind `tests/test_contract.py`: every public callable of lalib's
kernel modules, a valid call to it, and the kind of each of its arguments.

A *kind* ("array of rank 2", "size", "stride/padding pair", "rng", ...) lists the bad
values an argument of that kind can receive. `tests/test_contract.py` substitutes each
of them, one at a time, into an otherwise valid call and expects a clean refusal: a
ValueError or TypeError whose message names the argument (or the value it received).

Some generated values are legitimately valid for one function or argument (an empty
batch for `linear_forward`, ``None`` for an optional bias, a stride larger than the
image): the entry says so in its ``valid`` table, with the reason, and the test then
asserts that the call succeeds. Nothing is skipped silently.

`KNOWN_FAILURES` lists the cases in conv, attention and the engine that fail today
(another engineer is fixing those modules): each is marked ``xfail(strict=True)``, so
an entry must be removed when its fix lands.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lalib import (
    activations,
    attention,
    backprop,
    conv,
    decomp,
    linear,
    lowrank,
    mlp,
    positions,
    transformer,
)
from lalib.engine import conv as eng_conv
from lalib.engine import fft as eng_fft
from lalib.engine import winograd as eng_winograd

# ------------------------------------------------------------------------ bad values


@dataclass(frozen=True)
class Bad:
    """One bad value for an argument: ``make(valid_value, valid_kwargs)`` builds it.

    `relational` marks a value that is only wrong relative to another argument (a
    mismatched dimension): the message may then name either argument. `huge` marks a
    value that could make a careless implementation allocate without bound; such cases
    run in a forked child under an address-space cap (huge values are constants).
    `valid` (a reason) marks a value that the kind itself documents as acceptable: the
    call must then succeed.
    """

    label: str
    make: Callable[[Any, dict], Any]
    relational: bool = False
    huge: bool = False
    valid: str | None = None


@dataclass(frozen=True)
class Kind:
    """What an argument is, and the bad values an argument of that kind can get."""

    describe: str
    bads: tuple = ()


def _const(value):
    return lambda valid, kw: value


def _bad(label, value, **flags):
    return Bad(label, _const(value), **flags)


HUGE = 2**70  # beyond any allocation, and beyond int64 for products of sizes


# -------------------------------------------------------------------------- arrays


def _reduce_to(a, ndim):
    """`a` indexed at 0 along leading axes until it has `ndim` dimensions."""
    a = np.asarray(a)
    return a[(0,) * (a.ndim - ndim)] if a.ndim > ndim else a


def _expand_to(a, ndim):
    a = np.asarray(a)
    return a.reshape((1,) * (ndim - a.ndim) + a.shape)


def _grow(a, axis):
    """`a` with one more entry along `axis` (a copy of its first slice)."""
    a = np.asarray(a)
    return np.concatenate([a, np.take(a, [0], axis=axis)], axis=axis)


def _with_entry(a, value):
    a = np.array(a, dtype=np.float64)
    a.reshape(-1)[0] = value
    return a


ANY_SHAPE = "any shape is accepted, empty included"


def array(layout, ndim, *, coupled=None, dtype="float", finite=False):
    """An array argument.

    Parameters
    ----------
    layout : str
        Its documented shape, e.g. "(N, D)".
    ndim : int, tuple of int, (">=", k) or None
        The ranks accepted: exactly one, a few, at least k (leading batch axes), any.
    coupled : int, optional
        An axis whose length must agree with another argument: the kind adds a value
        one longer along it (a relational mismatch).
    dtype : {"float", "int", "any"}
        "float": real numbers, integers promoted to float64 (CONTRIBUTING, dtypes);
        "int": integer labels; "any": any dtype (only reshaped or reordered).
    finite : bool
        NaN and inf are refused (documented by the function).
    """
    bads = []
    if isinstance(ndim, int):
        ranks_ok = (ndim,)
    elif isinstance(ndim, tuple) and ndim and ndim[0] == ">=":
        ranks_ok = None
        if ndim[1] >= 1:
            low = ndim[1] - 1
            bads.append(Bad(f"rank {low}", lambda v, kw, n=low: _reduce_to(v, n)))
    else:
        ranks_ok = ndim
    if ranks_ok:
        low, high = min(ranks_ok) - 1, max(ranks_ok) + 1
        if low >= 0:
            bads.append(Bad(f"rank {low}", lambda v, kw, n=low: _reduce_to(v, n)))
        bads.append(Bad(f"rank {high}", lambda v, kw, n=high: _expand_to(v, n)))
    # Empty axes: valid for a free any-shape array, a mismatch when coupled.
    free = ndim is None and coupled is None
    bads.append(
        Bad(
            "empty axis 0",
            lambda v, kw: np.asarray(v)[:0],
            relational=True,
            valid=ANY_SHAPE if free else None,
        )
    )
    bads.append(
        Bad(
            "empty last axis",
            lambda v, kw: np.asarray(v)[..., :0],
            relational=True,
            valid=ANY_SHAPE if free else None,
        )
    )
    if coupled is not None:
        bads.append(
            Bad(
                f"mismatch axis {coupled}",
                lambda v, kw, ax=coupled: _grow(v, ax),
                relational=True,
            )
        )
    if dtype == "float":
        bads.append(
            Bad(
                "int64",
                lambda v, kw: np.rint(v).astype(np.int64),
                valid="integer input is promoted to float64 (CONTRIBUTING, dtypes)",
            )
        )
    if dtype == "int":
        bads.append(Bad("float64", lambda v, kw: np.asarray(v, dtype=np.float64)))
    if dtype in ("float", "int"):
        bads += [
            Bad("complex", lambda v, kw: np.asarray(v) + 1j),
            Bad("object", lambda v, kw: np.asarray(v).astype(object)),
            Bad("str", lambda v, kw: np.asarray(v).astype(str)),
        ]
    bads += [_bad("ragged", [[1.0, 2.0], [3.0]]), _bad("None", None)]
    if finite:
        bads += [
            Bad("nan entry", lambda v, kw: _with_entry(v, np.nan)),
            Bad("inf entry", lambda v, kw: _with_entry(v, np.inf)),
        ]
    return Kind(f"array {layout}", tuple(bads))


def labels(layout="(N,)"):
    """Integer class labels, one per row, each in 0..K-1 (out-of-range values are the
    entry's `extra`, as K is the entry's)."""
    kind = array(layout, 1, coupled=0, dtype="int")
    more = (Bad("negative", lambda v, kw: np.concatenate([[-1], np.asarray(v)[1:]])),)
    return Kind(kind.describe, kind.bads + more)


def mask():
    """A boolean mask broadcastable to (..., n_q, n_k)."""
    return Kind(
        "boolean mask (..., n_q, n_k)",
        (
            Bad("int mask", lambda v, kw: np.asarray(v).astype(np.int64)),
            Bad("float mask", lambda v, kw: np.asarray(v).astype(np.float64)),
            Bad("mismatch axis -1", lambda v, kw: _grow(v, -1), relational=True),
            Bad("rank 5", lambda v, kw: _expand_to(v, 5), relational=True),
            _bad("ragged", [[True, False], [True]]),
            Bad("str", lambda v, kw: np.asarray(v).astype(str)),
        ),
    )


# ------------------------------------------------------------------------- scalars


def size(minimum=0, *, none_ok=False):
    """An integer count or index: Python and NumPy integers; not bool, float, str."""
    bads = [
        _bad("2.5", 2.5),
        _bad("3.0", 3.0),
        _bad("True", True),
        _bad("-1", -1),
        _bad("'3'", "3"),
        _bad("None", None, valid="None is the documented default" if none_ok else None),
        _bad("2**70", HUGE, huge=True),
    ]
    if minimum >= 1:
        bads.insert(4, _bad("0", 0))
    return Kind(f"integer >= {minimum}", tuple(bads))


def pair(minimum):
    """A stride, padding, kernel size or block size: an int or a pair of ints."""
    below = minimum - 1
    return Kind(
        f"int >= {minimum} or pair of them",
        (
            _bad("2.5", 2.5),
            _bad("True", True),
            _bad(f"{below}", below),
            _bad("'2'", "2"),
            _bad("None", None),
            _bad("(1,)", (1,)),
            _bad("(1, 1, 1)", (1, 1, 1)),
            _bad("(1.5, 1)", (1.5, 1)),
            _bad(f"({below}, {minimum})", (below, minimum)),
            _bad("(True, 1)", (True, 1)),
            _bad("2**70", HUGE, huge=True),
            _bad("(1, 2**70)", (1, HUGE), huge=True),
        ),
    )


def shape_tuple(length, minimum=0):
    """A tuple of `length` non-negative ints such as ``(C, H, W)``."""
    ok = (2, 3, 3, 3)[:length]

    def entry0(value):
        return (value,) + ok[1:]

    return Kind(
        f"tuple of {length} ints >= {minimum}",
        (
            _bad("None", None),
            _bad("3", 3),
            _bad("short", ok[:-1]),
            _bad("2.5 entry", entry0(2.5)),
            _bad("True entry", entry0(True)),
            _bad("-1 entry", entry0(-1)),
            _bad("'2' entry", entry0("2")),
            _bad("huge", (2,) * (length - 2) + (2**40, 2**40), huge=True),
        ),
    )


def real(lo=None, hi=None, *, lo_open=False, hi_open=False, what="real number"):
    """A real number in a documented range (`lo`/`hi` None: unbounded)."""
    bads = []
    if lo is not None:
        if lo_open:
            bads.append(_bad(f"{lo!r}", lo))
        bads.append(_bad(f"{lo - 1!r}", lo - 1))
    if hi is not None and math.isfinite(hi):
        if hi_open:
            bads.append(_bad(f"{hi!r}", hi))
        bads.append(_bad(f"{hi + 0.5!r}", hi + 0.5))
    bads += [
        _bad("nan", math.nan),
        _bad("inf", math.inf),
        _bad("-inf", -math.inf),
        _bad("'0.1'", "0.1"),
        _bad("True", True),
        _bad("None", None),
        _bad("complex", 0.1 + 0j),
        _bad("array", np.array([0.1, 0.2])),
    ]
    return Kind(what, tuple(bads))


def positive_finite():
    """A learning rate, step or scale: a finite number > 0."""
    return real(0.0, math.inf, lo_open=True, hi_open=True, what="positive finite")


def dtype_kind():
    return Kind(
        "floating dtype",
        (
            _bad("int64", np.int64),
            _bad("'int32'", "int32"),
            _bad("complex128", np.complex128),
            _bad("object", object),
            _bad("'no-such-dtype'", "no-such-dtype"),
            _bad("float16", np.float16),
            _bad("None", None),
        ),
    )


def rng_kind():
    return Kind(
        "numpy.random.Generator",
        (
            _bad("int seed", 0),
            _bad("None", None),
            Bad("RandomState", lambda v, kw: np.random.RandomState(0)),
            _bad("np.random module", np.random),
        ),
    )


def flag():
    """A switch documented as a bool."""
    return Kind(
        "bool",
        (
            _bad("'no'", "no"),
            _bad("None", None),
            _bad("bool array", np.array([1, 0]) > 0),
        ),
    )


def algorithm_kind():
    """The `algorithm` keyword of the convolutions: one of four names."""
    return Kind(
        "one of 'auto', 'im2col', 'winograd', 'fft'",
        (
            _bad("'no-such'", "no-such"),
            _bad("'WINOGRAD'", "WINOGRAD"),
            _bad("''", ""),
            _bad("None", None),
            _bad("3", 3),
        ),
    )


def function():
    return Kind("callable", (_bad("None", None), _bad("3", 3), _bad("'f'", "f")))


def axis_kind():
    return Kind(
        "axis",
        (
            _bad("2.5", 2.5),
            _bad("True", True),
            _bad("'0'", "0"),
            _bad("None", None),
            Bad("ndim", lambda v, kw: _ndim_of_first(kw)),
            Bad("-ndim-1", lambda v, kw: -_ndim_of_first(kw) - 1),
        ),
    )


def _ndim_of_first(kw):
    return np.ndim(next(iter(kw.values())))


def cache():
    """What a forward pass returned for its backward pass."""
    return Kind(
        "cache from the forward pass",
        (
            _bad("None", None),
            _bad("()", ()),
            _bad("'cache'", "cache"),
            Bad("truncated", lambda v, kw: tuple(v)[:-1]),
        ),
    )


def param_list():
    """``[W1, b1, W2, b2, ...]``."""
    return Kind(
        "list of parameter arrays",
        (
            _bad("None", None),
            _bad("'params'", "params"),
            Bad("bare array", lambda v, kw: v[0], relational=True),
            _bad("[]", []),
            Bad("odd length", lambda v, kw: list(v)[:-1], relational=True),
            Bad("None element", lambda v, kw: [None] + list(v)[1:]),
            Bad("complex element", lambda v, kw: [v[0] + 1j] + list(v)[1:]),
            Bad("extra column", lambda v, kw: [_grow(v[0], 1)] + list(v)[1:]),
        ),
    )


def arg_list():
    """The arguments of a function checked by finite differences."""
    return Kind(
        "list or tuple of arrays",
        (
            _bad("None", None),
            Bad("bare array", lambda v, kw: v[0]),
            _bad("'args'", "args"),
            Bad("ragged element", lambda v, kw: ([[1.0, 2.0], [3.0]],) + tuple(v)[1:]),
            Bad("complex element", lambda v, kw: (v[0] + 1j,) + tuple(v)[1:]),
        ),
    )


def index_list():
    """Indices into the argument list (``wrt``)."""
    return Kind(
        "sequence of argument indices",
        (
            _bad("'0'", "0"),
            _bad("0", 0),
            _bad("[2.5]", [2.5]),
            _bad("[True]", [True]),
            Bad("[n_args]", lambda v, kw: [len(kw["args"])]),
            Bad("[-n_args-1]", lambda v, kw: [-len(kw["args"]) - 1]),
            _bad("[None]", [None]),
            _bad("None", None),
        ),
    )


def grad_list():
    """Analytic gradients, one per argument checked."""
    return Kind(
        "list of gradient arrays",
        (
            _bad("None", None),
            Bad("bare array", lambda v, kw: v[0], relational=True),
            Bad("one short", lambda v, kw: list(v)[:-1], relational=True),
            Bad(
                "extra column",
                lambda v, kw: [_grow(v[0], -1)] + list(v)[1:],
                relational=True,
            ),
        ),
    )


def sizes_kind():
    """Layer widths ``(D, H1, ..., K)``."""
    return Kind(
        "sequence of positive ints",
        (
            _bad("None", None),
            _bad("3", 3),
            _bad("[]", []),
            _bad("[4]", [4]),
            _bad("[4, 2.5]", [4, 2.5]),
            _bad("[4, True]", [4, True]),
            _bad("[4, 0]", [4, 0]),
            _bad("[4, '3']", [4, "3"]),
            _bad("[4, 2**70]", [4, HUGE], huge=True),
        ),
    )


def fixed(reason):
    """An argument that is not varied (``self``): `reason` says why."""
    return Kind(f"not varied: {reason}")


# ------------------------------------------------------------------------ entries


@dataclass
class Entry:
    """One public callable: a factory of valid keyword arguments and their kinds.

    ``make()`` returns fresh arguments for every parameter. ``valid`` maps
    ``(argument, label)`` to the reason that generated value is legitimately valid here.
    A reason of None there marks a value the kind accepts as an error here.
    ``relational`` lists ``(argument, label)`` cases that are only wrong relative to
    another argument here (the message may name either). ``extra`` adds bad values
    specific to this function. ``mutates`` lists the
    arguments the function documents it modifies in place. A generator function is
    called as ``list(f(...))`` (``consume``).
    """

    make: Callable[[], dict]
    kinds: dict
    valid: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    mutates: tuple = ()
    relational: frozenset = frozenset()
    consume: bool = False


def _ints(shape, seed=0, lo=-3, hi=4):
    """Integer-valued float64 data: the int64 variant of a case has the same values."""
    return np.random.default_rng(seed).integers(lo, hi, size=shape).astype(np.float64)


def _gen():
    return np.random.default_rng(0)


EMPTY_BATCH = "an empty batch (no rows) is a valid input with an empty output"
NUMPY_NONE = "dtype=None means float64, as everywhere in NumPy (documented in _checks)"
OPTIONAL = "None is the documented default"
BIG_STRIDE = "a stride beyond the image leaves one window along that axis"
BIG_OK = "one block holding everything: the sizes are clipped to the input"
PURE = "integer arithmetic only: nothing is allocated"
#: Prefix of a reason for a value that is valid but cannot be run (unbounded time): the
#: case is reported as skipped, with the reason.
NOT_RUN = "valid, not run: "


# linear ---------------------------------------------------------------------------


def _linear_args():
    return dict(x=_ints((3, 4)), W=_ints((4, 2), 1), b=_ints((2,), 2))


_LINEAR_KINDS = dict(
    x=array("(N, D)", 2, coupled=1),
    W=array("(D, M)", 2, coupled=0),
    b=array("(M,)", 1, coupled=0),
)
_LINEAR_VALID = {("x", "empty axis 0"): EMPTY_BATCH}


def _linear_backward_args():
    out, cache_ = linear.linear_forward(**_linear_args())
    return dict(dout=_ints(out.shape, 3), cache=cache_)


def _layer():
    return linear.LinearLayer(4, 2, rng=_gen())


CATALOGUE = {
    "lalib.linear.linear_forward": Entry(_linear_args, _LINEAR_KINDS, _LINEAR_VALID),
    "lalib.linear.linear": Entry(_linear_args, _LINEAR_KINDS, _LINEAR_VALID),
    "lalib.linear.linear_backward": Entry(
        _linear_backward_args,
        dict(dout=array("(N, M)", 2, coupled=1), cache=cache()),
    ),
    "lalib.linear.LinearLayer": Entry(
        lambda: dict(input_size=4, output_size=2, rng=_gen(), dtype=np.float32),
        dict(
            input_size=size(1),
            output_size=size(1),
            rng=rng_kind(),
            dtype=dtype_kind(),
        ),
        {("rng", "None"): OPTIONAL, ("dtype", "None"): NUMPY_NONE},
    ),
    "lalib.linear.LinearLayer.forward": Entry(
        lambda: dict(self=_layer(), x=_ints((3, 4))),
        dict(self=fixed("the layer"), x=array("(N, D)", 2, coupled=1)),
        {("x", "empty axis 0"): EMPTY_BATCH},
    ),
    "lalib.linear.LinearLayer.backward": Entry(
        lambda: dict(self=_layer(), grad_output=_ints((3, 2)), x=_ints((3, 4), 1)),
        dict(
            self=fixed("the layer"),
            grad_output=array("(N, M)", 2, coupled=1),
            x=array("(N, D)", 2, coupled=1),
        ),
    ),
}

# activations and losses ---------------------------------------------------------------

_relu_cache = lambda: activations.relu_forward(_ints((3, 4)))[1]  # noqa: E731

CATALOGUE.update(
    {
        "lalib.activations.relu_forward": Entry(
            lambda: dict(x=_ints((3, 4))), dict(x=array("any shape", None))
        ),
        "lalib.activations.relu": Entry(
            lambda: dict(x=_ints((3, 4))), dict(x=array("any shape", None))
        ),
        "lalib.activations.relu_backward": Entry(
            lambda: dict(dout=_ints((3, 4), 1), cache=_relu_cache()),
            dict(
                dout=array("shape of the input", None, coupled=-1),
                cache=array("the input x", None, coupled=-1),
            ),
        ),
        "lalib.activations.softmax": Entry(
            lambda: dict(z=_ints((3, 4)), axis=-1),
            dict(z=array("any shape", None), axis=axis_kind()),
        ),
        "lalib.activations.softmax_backward": Entry(
            lambda: dict(
                dout=_ints((3, 4), 1), p=activations.softmax(_ints((3, 4))), axis=-1
            ),
            dict(
                dout=array("shape of p", None, coupled=-1),
                p=array("softmax output", None, coupled=-1),
                axis=axis_kind(),
            ),
        ),
        "lalib.losses.squared_error": Entry(
            lambda: dict(y=_ints((3, 4)), t=_ints((3, 4), 1)),
            dict(
                y=array("any shape", None, coupled=-1),
                t=array("shape of y", None, coupled=-1),
            ),
        ),
        "lalib.losses.softmax_cross_entropy": Entry(
            lambda: dict(scores=_ints((3, 4)), labels=np.array([0, 3, 1])),
            dict(
                scores=array("(N, K)", 2, coupled=0, finite=True),
                labels=labels(),
            ),
            extra={"labels": (_bad("K", np.array([0, 4, 1])),)},
        ),
    }
)

# mlp -------------------------------------------------------------------------------


def _params():
    return mlp.init_params([4, 5, 3], _gen())


def _y(n=6, seed=0):
    return np.random.default_rng(seed).integers(0, 3, size=n)


def _mlp_backward_args():
    scores, caches = mlp.mlp_forward(_params(), _ints((6, 4)))
    return dict(dscores=_ints(scores.shape, 1), caches=caches)


_Y_OUT_OF_RANGE = (_bad("K", np.array([0, 1, 2, 3, 0, 1])),)

CATALOGUE.update(
    {
        "lalib.mlp.init_params": Entry(
            lambda: dict(sizes=[4, 5, 3], rng=_gen(), dtype=np.float32),
            dict(sizes=sizes_kind(), rng=rng_kind(), dtype=dtype_kind()),
            {("dtype", "None"): NUMPY_NONE},
        ),
        "lalib.mlp.mlp_forward": Entry(
            lambda: dict(params=_params(), x=_ints((6, 4))),
            dict(params=param_list(), x=array("(N, D)", 2, coupled=1)),
            {("x", "empty axis 0"): EMPTY_BATCH},
        ),
        "lalib.mlp.mlp_backward": Entry(
            _mlp_backward_args,
            dict(dscores=array("(N, K)", 2, coupled=1), caches=cache()),
        ),
        "lalib.mlp.mlp_loss": Entry(
            lambda: dict(params=_params(), x=_ints((6, 4)), labels=_y()),
            dict(
                params=param_list(),
                x=array("(N, D)", 2, coupled=1),
                labels=labels(),
            ),
            extra={"labels": _Y_OUT_OF_RANGE},
        ),
        "lalib.mlp.predict": Entry(
            lambda: dict(params=_params(), x=_ints((6, 4))),
            dict(params=param_list(), x=array("(N, D)", 2, coupled=1, finite=True)),
            {("x", "empty axis 0"): EMPTY_BATCH},
        ),
        "lalib.mlp.accuracy": Entry(
            lambda: dict(params=_params(), x=_ints((6, 4)), labels=_y()),
            dict(
                params=param_list(),
                x=array("(N, D)", 2, coupled=1, finite=True),
                labels=labels(),
            ),
            extra={"labels": _Y_OUT_OF_RANGE},
        ),
        "lalib.mlp.train": Entry(
            lambda: dict(
                params=_params(),
                X=_ints((6, 4)),
                y=_y(),
                epochs=2,
                batch_size=4,
                lr=0.01,
                rng=_gen(),
                X_test=_ints((4, 4), 1),
                y_test=_y(4, 1),
            ),
            dict(
                params=param_list(),
                X=array("(N, D)", 2, coupled=1, finite=True),
                y=labels(),
                epochs=size(1),
                batch_size=size(1),
                lr=positive_finite(),
                rng=rng_kind(),
                X_test=array("(N_test, D)", 2, coupled=1, finite=True),
                y_test=labels("(N_test,)"),
            ),
            {
                ("epochs", "2**70"): NOT_RUN + "it would train for 2**70 epochs",
                (
                    "batch_size",
                    "2**70",
                ): "a batch larger than N is one batch of all rows",
            },
            extra={
                "y": _Y_OUT_OF_RANGE,
                "y_test": (_bad("K", np.array([0, 1, 3, 0])),),
            },
            mutates=("params",),
        ),
    }
)

# conv ------------------------------------------------------------------------------


def _conv_args():
    return dict(
        x=_ints((2, 2, 5, 5)), w=_ints((3, 2, 3, 3), 1), b=_ints((3,), 2), stride=1,
        padding=1,
    )  # fmt: skip


_CONV_KINDS = dict(
    x=array("(N, C, H, W)", 4, coupled=1),
    w=array("(F, C, KH, KW)", 4, coupled=1),
    b=array("(F,)", 1, coupled=0),
    stride=pair(1),
    padding=pair(0),
)
_CONV_VALID = {
    ("x", "empty axis 0"): EMPTY_BATCH,
    ("b", "None"): "the bias is optional (None by default)",
    ("stride", "2**70"): BIG_STRIDE,
    ("stride", "(1, 2**70)"): BIG_STRIDE,
}


def _conv_algorithm_args():
    return dict(_conv_args(), algorithm="auto")


_CONV_ALGORITHM_KINDS = dict(_CONV_KINDS, algorithm=algorithm_kind())


def _conv_backward_args(module):
    out, cache_ = module.conv2d_forward(**_conv_args())
    return dict(dout=_ints(out.shape, 3), cache=cache_)


def _other_cache(module):
    """A cache from the other implementation's forward pass."""
    return Bad("other implementation's cache", lambda v, kw: _conv_cache_of(module))


def _conv_cache_of(module):
    return module.conv2d_forward(**_conv_args())[1]


_TOEPLITZ_VALID = {
    ("stride", "2**70"): BIG_STRIDE,
    ("stride", "(1, 2**70)"): BIG_STRIDE,
}

CATALOGUE.update(
    {
        "lalib.conv.output_size": Entry(
            lambda: dict(input_hw=(5, 5), kernel_hw=(3, 3), stride=1, padding=1),
            dict(
                input_hw=shape_tuple(2),
                kernel_hw=shape_tuple(2, 1),
                stride=pair(1),
                padding=pair(0),
            ),
            {
                ("input_hw", "huge"): PURE,
                ("stride", "2**70"): BIG_STRIDE,
                ("stride", "(1, 2**70)"): BIG_STRIDE,
            },
        ),
        "lalib.conv.conv2d_naive": Entry(_conv_args, _CONV_KINDS, _CONV_VALID),
        "lalib.conv.conv2d_forward": Entry(_conv_args, _CONV_KINDS, _CONV_VALID),
        "lalib.conv.conv2d": Entry(
            _conv_algorithm_args, _CONV_ALGORITHM_KINDS, _CONV_VALID
        ),
        "lalib.conv.conv2d_backward": Entry(
            lambda: _conv_backward_args(conv),
            dict(dout=array("(N, F, H', W')", 4, coupled=1), cache=cache()),
            extra={"cache": (_other_cache(eng_conv),)},
        ),
        "lalib.conv.toeplitz_matrix": Entry(
            lambda: dict(
                w=_ints((3, 2, 3, 3)), input_shape=(2, 4, 4), stride=1, padding=1
            ),
            dict(
                w=array("(F, C, KH, KW)", 4, coupled=1),
                input_shape=shape_tuple(3),
                stride=pair(1),
                padding=pair(0),
            ),
            {
                **_TOEPLITZ_VALID,
                ("w", "empty axis 0"): "F = 0 filters: an empty (0, C*H*W) matrix",
            },
        ),
        "lalib.conv.im2col": Entry(
            lambda: dict(x=_ints((2, 2, 5, 5)), kernel_size=3, stride=1, padding=1),
            dict(
                x=array("(N, C, H, W)", 4),
                kernel_size=pair(1),
                stride=pair(1),
                padding=pair(0),
            ),
            {
                ("x", "empty axis 0"): EMPTY_BATCH,
                **_TOEPLITZ_VALID,
            },
        ),
        "lalib.conv.col2im": Entry(
            lambda: dict(
                cols=_ints((2, 18, 25)),
                x_shape=(2, 2, 5, 5),
                kernel_size=3,
                stride=1,
                padding=1,
            ),  # fmt: skip
            dict(
                cols=array("(N, C*KH*KW, H'*W')", 3, coupled=1),
                x_shape=shape_tuple(4),
                kernel_size=pair(1),
                stride=pair(1),
                padding=pair(0),
            ),
            # With a stride over the whole image, cols of (N, C*KH*KW, H'*W') for
            # stride 1 no longer fit: a mismatch between stride and cols.
            relational=frozenset({("stride", "2**70"), ("stride", "(1, 2**70)")}),
        ),
    }
)

# conv: transposed convolution and receptive fields ---------------------------------


def _transpose_args():
    return dict(
        x=_ints((2, 2, 3, 4)), w=_ints((2, 3, 3, 3), 1), b=_ints((3,), 2), stride=2,
        padding=1, output_padding=1,
    )  # fmt: skip


_TRANSPOSE_KINDS = dict(
    x=array("(N, C_in, H, W)", 4, coupled=1),
    w=array("(C_in, C_out, KH, KW)", 4, coupled=0),
    b=array("(C_out,)", 1, coupled=0),
    stride=pair(1),
    padding=pair(0),
    output_padding=pair(0),
)
_TRANSPOSE_VALID = {
    ("x", "empty axis 0"): EMPTY_BATCH,
    ("b", "None"): "the bias is optional (None by default)",
}


def _transpose_backward_args():
    out, cache_ = conv.conv_transpose2d_forward(**_transpose_args())
    return dict(dout=_ints(out.shape, 3), cache=cache_)


def layer_list():
    """A stack of layers ``[(kernel_size, stride), ...]``, each an int or a pair."""
    return Kind(
        "sequence of (kernel_size, stride) pairs",
        (
            _bad("None", None),
            _bad("3", 3),
            _bad("'33'", "33"),
            _bad("[]", [], valid="an empty stack has no layer: an empty list"),
            _bad("[3]", [3]),
            _bad("[(3,)]", [(3,)]),
            _bad("[(3, 1, 1)]", [(3, 1, 1)]),
            _bad("[(0, 1)]", [(0, 1)]),
            _bad("[(3, 0)]", [(3, 0)]),
            _bad("[(2.5, 1)]", [(2.5, 1)]),
            _bad("[(True, 1)]", [(True, 1)]),
            _bad("[(3, '1')]", [(3, "1")]),
            _bad("[(3, None)]", [(3, None)]),
            _bad("[(3, 2**70)]", [(3, HUGE)], huge=True, valid=PURE),
        ),
    )


CATALOGUE.update(
    {
        "lalib.conv.conv_transpose2d_forward": Entry(
            _transpose_args, _TRANSPOSE_KINDS, _TRANSPOSE_VALID
        ),
        "lalib.conv.conv_transpose2d": Entry(
            _transpose_args, _TRANSPOSE_KINDS, _TRANSPOSE_VALID
        ),
        "lalib.conv.conv_transpose2d_backward": Entry(
            _transpose_backward_args,
            dict(dout=array("(N, C_out, H_out, W_out)", 4, coupled=1), cache=cache()),
            extra={"cache": (_other_cache(conv),)},
        ),
        "lalib.conv.receptive_field": Entry(
            lambda: dict(layers=[(3, 1), ((3, 5), 2), (1, (1, 2))]),
            dict(layers=layer_list()),
        ),
    }
)

# engine.conv -----------------------------------------------------------------------

CATALOGUE.update(
    {
        "lalib.engine.conv.conv2d_forward": Entry(
            _conv_algorithm_args, _CONV_ALGORITHM_KINDS, _CONV_VALID
        ),
        "lalib.engine.conv.conv2d": Entry(
            _conv_algorithm_args, _CONV_ALGORITHM_KINDS, _CONV_VALID
        ),
        "lalib.engine.conv.choose_algorithm": Entry(
            lambda: dict(
                x_shape=(2, 2, 5, 5),
                w_shape=(3, 2, 3, 3),
                stride=1,
                padding=1,
                dtype=np.float32,
            ),
            dict(
                x_shape=shape_tuple(4),
                w_shape=shape_tuple(4),
                stride=pair(1),
                padding=pair(0),
                dtype=dtype_kind(),
            ),
            {
                ("x_shape", "huge"): PURE,
                ("stride", "2**70"): BIG_STRIDE,
                ("stride", "(1, 2**70)"): BIG_STRIDE,
                ("dtype", "None"): NUMPY_NONE,
            },
            # A huge kernel is refused as larger than the padded input.
            relational=frozenset({("w_shape", "huge")}),
        ),
        "lalib.engine.conv.error_table": Entry(
            lambda: dict(channels=(2,), rng=_gen(), kernel_size=3),
            dict(channels=sizes_kind(), rng=rng_kind(), kernel_size=size(1)),
            {
                ("channels", "[]"): "no values of C: an empty table",
                ("channels", "[4]"): "one value of C: a table of one row",
                ("rng", "None"): OPTIONAL,
            },
        ),
        "lalib.engine.conv.conv2d_backward": Entry(
            lambda: _conv_backward_args(eng_conv),
            dict(dout=array("(N, F, H', W')", 4, coupled=1), cache=cache()),
            extra={"cache": (_other_cache(conv),)},
        ),
        "lalib.engine.conv.column_blocks": Entry(
            lambda: dict(x=_ints((2, 2, 5, 5)), kernel_size=3, stride=1, padding=1),
            dict(
                x=array("(N, C, H, W)", 4),
                kernel_size=pair(1),
                stride=pair(1),
                padding=pair(0),
            ),
            {("x", "empty axis 0"): EMPTY_BATCH, **_TOEPLITZ_VALID},
            consume=True,
        ),
    }
)

# engine.winograd and engine.fft ----------------------------------------------------

_WINOGRAD_KINDS = dict(_CONV_KINDS, tile=size(1))

CATALOGUE.update(
    {
        "lalib.engine.winograd.transform_matrices": Entry(
            lambda: dict(tile=4), dict(tile=size(1))
        ),
        "lalib.engine.winograd.conv2d_forward": Entry(
            lambda: dict(_conv_args(), tile=4),
            _WINOGRAD_KINDS,
            {
                ("x", "empty axis 0"): EMPTY_BATCH,
                ("b", "None"): "the bias is optional (None by default)",
            },
        ),
        "lalib.engine.winograd.conv2d_backward": Entry(
            lambda: _conv_backward_args(eng_winograd),
            dict(dout=array("(N, F, H', W')", 4, coupled=1), cache=cache()),
            extra={"cache": (_other_cache(eng_conv),)},
        ),
        "lalib.engine.fft.conv2d_forward": Entry(_conv_args, _CONV_KINDS, _CONV_VALID),
        "lalib.engine.fft.conv2d_backward": Entry(
            lambda: _conv_backward_args(eng_fft),
            dict(dout=array("(N, F, H', W')", 4, coupled=1), cache=cache()),
            extra={"cache": (_other_cache(eng_conv),)},
        ),
    }
)

# attention -------------------------------------------------------------------------


def _qkv():
    return dict(
        Q=_ints((2, 3, 4)),
        K=_ints((2, 5, 4), 1),
        V=_ints((2, 5, 2), 2),
        mask=np.random.default_rng(3).random((3, 5)) < 0.7,
        scale=0.5,
        causal=False,
    )


_QKV_KINDS = dict(
    Q=array("(..., n_q, d_k)", (">=", 2), coupled=-1),
    K=array("(..., n_k, d_k)", (">=", 2), coupled=-1),
    V=array("(..., n_k, d_v)", (">=", 2), coupled=-2),
    mask=mask(),
    scale=positive_finite(),  # but 0 and -1 are valid too: see _QKV_VALID
    causal=flag(),
)
_SCALE_ANY_SIGN = (
    "scale is documented as 'a finite real number': 0 multiplies every score by 0 "
    "(uniform weights, infinite temperature) and a negative scale reverses the order "
    "of the scores; both are well defined"
)
_QKV_VALID = {
    ("V", "empty last axis"): "d_v = 0 gives an empty output",
    ("scale", "None"): "None is the documented default, 1 / sqrt(d_k)",
    ("scale", "0.0"): _SCALE_ANY_SIGN,
    ("scale", "-1.0"): _SCALE_ANY_SIGN,
}


def _attention_backward_args(forward):
    out, cache_ = forward(**_qkv())
    return dict(dout=_ints(out.shape, 4), cache=cache_)


def _mha_args():
    return dict(
        x_q=_ints((2, 3, 4)),
        x_kv=_ints((2, 5, 4), 1),
        W_q=_ints((4, 6), 2),
        W_k=_ints((4, 6), 3),
        W_v=_ints((4, 4), 4),
        W_o=_ints((4, 3), 5),
        n_heads=2,
        mask=np.random.default_rng(3).random((3, 5)) < 0.7,
        causal=False,
    )


_MHA_KINDS = dict(
    x_q=array("(..., n_q, D)", (">=", 2), coupled=-1),
    x_kv=array("(..., n_k, D_kv)", (">=", 2), coupled=-1),
    W_q=array("(D, h*d_k)", 2, coupled=0),
    W_k=array("(D_kv, h*d_k)", 2, coupled=0),
    W_v=array("(D_kv, h*d_v)", 2, coupled=0),
    W_o=array("(h*d_v, M)", 2, coupled=0),
    n_heads=size(1),
    mask=mask(),
    causal=flag(),
)
_MHA_VALID = {("W_o", "empty last axis"): "M = 0 output features gives an empty output"}
_MHA_EXTRA = {"n_heads": (_bad("3 (does not divide)", 3),)}


def _mha_backward_args():
    out, cache_ = attention.multi_head_attention_forward(**_mha_args())
    return dict(dout=_ints(out.shape, 6), cache=cache_)


def _blockwise_args():
    return dict(_qkv(), block_size=2)


_BLOCKWISE_KINDS = dict(_QKV_KINDS, block_size=pair(1))
_BLOCKWISE_VALID = {
    **_QKV_VALID,
    ("block_size", "2**70"): BIG_OK,
    ("block_size", "(1, 2**70)"): BIG_OK,
}


def _sdpa_args():
    return dict(_qkv(), need_weights=True)


_SDPA_KINDS = dict(_QKV_KINDS, need_weights=flag())

CATALOGUE.update(
    {
        "lalib.attention.causal_mask": Entry(
            lambda: dict(n_q=3, n_k=4),
            dict(n_q=size(0), n_k=size(0, none_ok=True)),
        ),
        "lalib.attention.attention_forward": Entry(_qkv, _QKV_KINDS, _QKV_VALID),
        "lalib.attention.attention_naive": Entry(_qkv, _QKV_KINDS, _QKV_VALID),
        "lalib.attention.attention_blockwise": Entry(
            _blockwise_args, _BLOCKWISE_KINDS, _BLOCKWISE_VALID
        ),
        "lalib.attention.scaled_dot_product_attention": Entry(
            _sdpa_args, _SDPA_KINDS, _QKV_VALID
        ),
        "lalib.attention.attention_backward": Entry(
            lambda: _attention_backward_args(attention.attention_forward),
            dict(dout=array("(..., n_q, d_v)", (">=", 2), coupled=-1), cache=cache()),
        ),
        "lalib.attention.split_heads": Entry(
            lambda: dict(x=_ints((2, 3, 6)), n_heads=2),
            dict(
                x=array("(..., n, h*d)", (">=", 2), coupled=-1, dtype="any"),
                n_heads=size(1),
            ),
            {
                ("x", "empty axis 0"): EMPTY_BATCH,
                ("x", "empty last axis"): "h*d = 0 splits into h heads of width 0",
            },
        ),
        "lalib.attention.merge_heads": Entry(
            lambda: dict(x=_ints((2, 2, 3, 3))),
            dict(x=array("(..., h, n, d)", (">=", 3), dtype="any")),
            {
                ("x", "empty axis 0"): EMPTY_BATCH,
                ("x", "empty last axis"): "d = 0 gives an empty (..., n, 0) result",
            },
        ),
        "lalib.attention.multi_head_attention_forward": Entry(
            _mha_args, _MHA_KINDS, _MHA_VALID, _MHA_EXTRA
        ),
        "lalib.attention.multi_head_attention": Entry(
            _mha_args, _MHA_KINDS, _MHA_VALID, _MHA_EXTRA
        ),
        "lalib.attention.multi_head_attention_backward": Entry(
            _mha_backward_args,
            dict(dout=array("(..., n_q, M)", (">=", 2), coupled=-1), cache=cache()),
        ),
    }
)

# engine.attention ------------------------------------------------------------------

CATALOGUE.update(
    {
        "lalib.engine.attention.attention_forward": Entry(_qkv, _QKV_KINDS, _QKV_VALID),
        "lalib.engine.attention.attention_blockwise": Entry(
            _blockwise_args, _BLOCKWISE_KINDS, _BLOCKWISE_VALID
        ),
        "lalib.engine.attention.scaled_dot_product_attention": Entry(
            _sdpa_args, _SDPA_KINDS, _QKV_VALID
        ),
        "lalib.engine.attention.softmax_rows_inplace": Entry(
            lambda: dict(S=_ints((2, 3, 4))),
            dict(S=array("(..., n_q, n_k) scores", (">=", 1))),
            {
                ("S", "empty axis 0"): ANY_SHAPE,
                ("S", "empty last axis"): "a row of no keys is fine (documented)",
                ("S", "int64"): None,
            },
            mutates=("S",),
        ),
    }
)

# decomp ----------------------------------------------------------------------------

_A = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [2.0, 0.0, 1.0],
               [0.0, 3.0, 1.0]])  # fmt: skip
_LSTSQ_KINDS = dict(
    A=array("(M, N)", 2, coupled=0), b=array("(M,) or (M, K)", (1, 2), coupled=0)
)
_LSTSQ_VALID = {("A", "empty last axis"): "N = 0 unknowns: the solution is empty"}


def _lstsq_args():
    return dict(A=_A.copy(), b=_ints((5,)))


def _pca_basis():
    comps, _, mean = decomp.pca(_ints((6, 3)), 2)
    return comps, mean


CATALOGUE.update(
    {
        "lalib.decomp.covariance": Entry(
            lambda: dict(X=_ints((5, 3))), dict(X=array("(N, D)", 2))
        ),
        "lalib.decomp.pca": Entry(
            lambda: dict(X=_ints((5, 3)), k=2),
            dict(X=array("(N, D)", 2), k=size(1)),
            extra={"k": (_bad("D + 1", 4),)},
        ),
        "lalib.decomp.pca_transform": Entry(
            lambda: dict(zip(("components", "mean"), _pca_basis()), X=_ints((4, 3), 1)),
            dict(
                X=array("(N, D)", 2, coupled=1),
                components=array("(k, D)", 2, coupled=1),
                mean=array("(D,)", 1, coupled=0),
            ),
            {
                ("X", "empty axis 0"): EMPTY_BATCH,
                ("components", "empty axis 0"): "k = 0 components: (N, 0) coordinates",
            },
        ),
        "lalib.decomp.pca_reconstruct": Entry(
            lambda: dict(zip(("components", "mean"), _pca_basis()), Z=_ints((4, 2), 1)),
            dict(
                Z=array("(N, k)", 2, coupled=1),
                components=array("(k, D)", 2, coupled=0),
                mean=array("(D,)", 1, coupled=0),
            ),
            {("Z", "empty axis 0"): EMPTY_BATCH},
        ),
        "lalib.decomp.lstsq_normal_equations": Entry(
            _lstsq_args, _LSTSQ_KINDS, _LSTSQ_VALID
        ),
        "lalib.decomp.lstsq_qr": Entry(_lstsq_args, _LSTSQ_KINDS, _LSTSQ_VALID),
        "lalib.decomp.lstsq_svd": Entry(
            lambda: dict(_lstsq_args(), rcond=1e-10),
            dict(_LSTSQ_KINDS, rcond=real(0.0, 1.0, hi_open=True, what="rcond")),
            {**_LSTSQ_VALID, ("rcond", "None"): OPTIONAL},
        ),
    }
)

# optim -----------------------------------------------------------------------------

_H = np.array([[4.0, 1.0], [1.0, 3.0]])
_ASYM = (_bad("asymmetric", np.array([[4.0, 1.0], [0.0, 3.0]])),)


def _quad_args():
    return dict(x=_ints((3, 2)), A=_H.copy(), b=np.array([1.0, 2.0]))


_QUAD_KINDS = dict(
    x=array("(d,) or (K, d)", (1, 2), coupled=-1),
    A=array("(d, d)", 2, coupled=0),
    b=array("(d,)", 1, coupled=0),
)
_QUAD_VALID = {("x", "empty axis 0"): "K = 0 points: an empty result"}

CATALOGUE.update(
    {
        "lalib.optim.quadratic_loss": Entry(
            _quad_args, _QUAD_KINDS, _QUAD_VALID, {"A": _ASYM}
        ),
        "lalib.optim.quadratic_grad": Entry(
            _quad_args, _QUAD_KINDS, _QUAD_VALID, {"A": _ASYM}
        ),
        "lalib.optim.quadratic_minimizer": Entry(
            lambda: dict(A=_H.copy(), b=np.array([1.0, 2.0])),
            dict(A=array("(d, d)", 2, coupled=0), b=array("(d,)", 1, coupled=0)),
            extra={"A": _ASYM + (_bad("indefinite", np.diag([1.0, -1.0])),)},
        ),
        "lalib.optim.gd_rate": Entry(
            lambda: dict(A=_H.copy(), lr=0.1),
            dict(A=array("(d, d)", 2), lr=positive_finite()),
            extra={"A": _ASYM},
        ),
        "lalib.optim.gd_step": Entry(
            lambda: dict(
                params=[_ints((3, 2)), _ints((2,), 1)],
                grads=[_ints((3, 2), 2), _ints((2,), 3)],
                lr=0.1,
            ),
            dict(params=param_list(), grads=grad_list(), lr=positive_finite()),
        ),
        "lalib.optim.gradient_descent": Entry(
            lambda: dict(
                grad_fn=lambda x: 2.0 * x,
                x0=np.array([1.0, -2.0]),
                lr=0.1,
                steps=3,
                momentum=0.5,
            ),
            dict(
                grad_fn=function(),
                x0=array("any shape", None),
                lr=positive_finite(),
                steps=size(0),
                momentum=real(0.0, 1.0, hi_open=True, what="momentum in [0, 1)"),
            ),
            extra={
                "grad_fn": (
                    _bad("returns a wrong shape", lambda x: np.zeros(3)),
                    _bad("returns complex", lambda x: x + 1j),
                )
            },
        ),
    }
)

# gradcheck -------------------------------------------------------------------------


def _bilinear(x, W):
    return x @ W


def _gc_args():
    return dict(
        f=_bilinear,
        args=(_ints((2, 3)), _ints((3, 2), 1)),
        dout=_ints((2, 2), 2),
        wrt=[0, 1],
        h=1e-6,
    )


def _gc_grads():
    kw = _gc_args()
    x, W = kw["args"]
    dout = kw["dout"]
    return [dout @ W.T, x.T @ dout]


_GC_KINDS = dict(
    f=function(),
    args=arg_list(),
    dout=array("shape of f(*args)", 2, coupled=1),
    wrt=index_list(),
    h=positive_finite(),
)
_GC_VALID = {("dout", "None"): OPTIONAL, ("wrt", "None"): OPTIONAL}

CATALOGUE.update(
    {
        "lalib.gradcheck.numerical_gradient": Entry(_gc_args, _GC_KINDS, _GC_VALID),
        "lalib.gradcheck.check_gradients": Entry(
            lambda: dict(_gc_args(), grads=_gc_grads()),
            dict(_GC_KINDS, grads=grad_list()),
            _GC_VALID,
        ),
        "lalib.gradcheck.relative_error": Entry(
            lambda: dict(a=_ints((3, 2)), b=_ints((3, 2), 1)),
            dict(
                a=array("any shape", None, coupled=-1),
                b=array("shape of a", None, coupled=-1),
            ),
        ),
    }
)

# data ------------------------------------------------------------------------------

_ANY_FLOAT = "any floating dtype is accepted (documented)"
_ANY_DTYPE = "any dtype: the rows are only reordered (documented)"

CATALOGUE.update(
    {
        "lalib.data.load_digits": Entry(
            lambda: dict(dtype=np.float32),
            dict(dtype=dtype_kind()),
            {("dtype", "None"): NUMPY_NONE, ("dtype", "float16"): _ANY_FLOAT},
        ),
        "lalib.data.sample_image": Entry(
            lambda: dict(dtype=np.float32),
            dict(dtype=dtype_kind()),
            {("dtype", "None"): NUMPY_NONE, ("dtype", "float16"): _ANY_FLOAT},
        ),
        "lalib.data.train_test_split": Entry(
            lambda: dict(X=_ints((8, 3)), y=_y(8), test_fraction=0.25, rng=_gen()),
            dict(
                X=array("(N, ...)", (">=", 1), coupled=0, dtype="any"),
                y=array("(N, ...)", (">=", 1), coupled=0, dtype="any"),
                test_fraction=real(0.0, 1.0, lo_open=True, hi_open=True, what="(0, 1)"),
                rng=rng_kind(),
            ),
            {
                ("X", "empty last axis"): "rows of zero width are still rows",
                ("rng", "None"): OPTIONAL,
            },
        ),
    }
)


# fourier ---------------------------------------------------------------------------

_FOURIER_1D = dict(c=array("(k,)", 1), n=size(1, none_ok=True))
_FOURIER_1D_EXTRA = {
    "n": (_bad("k - 1 (shorter than c)", 2),),
    "c": (_bad("longer than n", np.ones(6)),),
}
_FOURIER_2D = dict(w=array("(KH, KW)", 2), shape=shape_tuple(2, 1))
_FOURIER_2D_EXTRA = {"w": (_bad("larger than shape", np.ones((4, 4))),)}
_FOURIER_1D_RELATIONAL = frozenset({("c", "longer than n")})
_FOURIER_2D_RELATIONAL = frozenset({("w", "larger than shape")})


def _fourier_2d_args():
    return dict(w=_ints((2, 2)), shape=(3, 4))


CATALOGUE.update(
    {
        "lalib.fourier.circulant": Entry(
            lambda: dict(c=_ints((3,)), n=5),
            _FOURIER_1D,
            extra=_FOURIER_1D_EXTRA,
            relational=_FOURIER_1D_RELATIONAL,
        ),
        "lalib.fourier.circulant_eigenvalues": Entry(
            lambda: dict(c=_ints((3,)), n=5),
            _FOURIER_1D,
            extra=_FOURIER_1D_EXTRA,
            relational=_FOURIER_1D_RELATIONAL,
        ),
        "lalib.fourier.circular_convolve": Entry(
            lambda: dict(c=_ints((3,)), x=_ints((5,), 1)),
            dict(c=array("(k,)", 1), x=array("(n,)", 1)),
            extra={"c": (_bad("longer than x", np.ones(6)),)},
            relational=frozenset({("c", "longer than x")}),
        ),
        "lalib.fourier.dft_matrix": Entry(lambda: dict(n=4), dict(n=size(1))),
        "lalib.fourier.circulant2d": Entry(
            _fourier_2d_args,
            _FOURIER_2D,
            extra=_FOURIER_2D_EXTRA,
            relational=_FOURIER_2D_RELATIONAL,
        ),
        "lalib.fourier.circulant2d_eigenvalues": Entry(
            _fourier_2d_args,
            _FOURIER_2D,
            extra=_FOURIER_2D_EXTRA,
            relational=_FOURIER_2D_RELATIONAL,
        ),
        "lalib.fourier.circular_conv2d": Entry(
            lambda: dict(x=_ints((3, 4), 1), w=_ints((2, 2))),
            dict(x=array("(H, W)", 2), w=array("(KH, KW)", 2)),
            extra={"w": (_bad("larger than x", np.ones((4, 4))),)},
            relational=frozenset({("w", "larger than x")}),
        ),
        "lalib.fourier.embed_toeplitz": Entry(
            lambda: dict(w=_ints((2, 3)), shape=(3, 4), padding=1),
            dict(_FOURIER_2D, padding=pair(0)),
            extra={"padding": (_bad("(KH, KW)", (2, 3)),)},
        ),
    }
)


# backprop --------------------------------------------------------------------------


def _matrix_list(what):
    """A list of 2-D arrays whose shapes chain (Jacobians or the factors of a chain)."""
    return Kind(
        what,
        (
            _bad("None", None),
            _bad("'J'", "J"),
            Bad("bare array", lambda v, kw: np.asarray(v[0])),
            _bad("[]", []),
            Bad("None element", lambda v, kw: [None] + list(v)[1:]),
            Bad("complex element", lambda v, kw: [v[0] + 1j] + list(v)[1:]),
            Bad("rank-1 element", lambda v, kw: [v[0][0]] + list(v)[1:]),
            Bad("ragged element", lambda v, kw: [[[1.0, 2.0], [3.0]]] + list(v)[1:]),
            Bad(
                "not chaining",
                lambda v, kw: [_grow(v[0], 0), _grow(v[1], 0)] + list(v)[2:],
            ),
        ),
    )


def _dims_kind():
    """``(d_0, ..., d_n)``: matrix i of a chain is d_i x d_(i+1)."""
    return Kind(
        "sequence of at least two positive ints",
        (
            _bad("None", None),
            _bad("3", 3),
            _bad("'34'", "34"),
            _bad("[]", []),
            _bad("[4]", [4]),
            _bad("[4, 2.5]", [4, 2.5]),
            _bad("[4, True]", [4, True]),
            _bad("[4, 0]", [4, 0]),
            _bad("[4, -1]", [4, -1]),
            _bad("[4, '3']", [4, "3"]),
            _bad("[4, None]", [4, None]),
        ),
    )


def _order_kind():
    """'left', 'right', a parenthesised string or a nested tuple, for 3 matrices."""
    return Kind(
        "order of a 3-matrix chain",
        (
            _bad("None", None),
            _bad("'middle'", "middle"),
            _bad("''", ""),
            _bad("'(A1 A2)'", "(A1 A2)"),
            _bad("'(A1 A2 A3)'", "(A1 A2 A3)"),
            _bad("'((A1 A2) A4)'", "((A1 A2) A4)"),
            _bad("'((A1 A2) A3'", "((A1 A2) A3"),
            _bad("3", 3),
            _bad("(0, 1)", (0, 1)),
            _bad("((1, 0), 2)", ((1, 0), 2)),
            _bad("(0, 1, 2)", (0, 1, 2)),
            _bad("((0, 1), 2.0)", ((0, 1), 2.0)),
            _bad("((0, 1), True)", ((0, 1), True)),
            _bad("[[0, 1], 2]", [[0, 1], 2]),
        ),
    )


def _circuit():
    return list(backprop.CIRCUIT)


def _circuit_values():
    return {k: _ints((2,), seed) for seed, k in enumerate("xyzw")}


def _nodes_kind():
    return Kind(
        "list of (name, op, (a, b)) gates",
        (
            _bad("None", None),
            _bad("[]", []),
            _bad("'nodes'", "nodes"),
            Bad("None gate", lambda v, kw: [None] + list(v)[1:]),
            Bad("pair gate", lambda v, kw: [v[0][:2]] + list(v)[1:]),
            Bad("unknown op", lambda v, kw: [("p", "pow", ("x", "y"))] + list(v)[1:]),
            Bad("one input", lambda v, kw: [("p", "mul", ("x",))] + list(v)[1:]),
            Bad("undefined input", lambda v, kw: [("p", "mul", ("x", "v"))] + v[1:]),
            Bad("redefined", lambda v, kw: [("x", "mul", ("x", "y"))] + list(v)[1:]),
            Bad("bool constant", lambda v, kw: [("p", "mul", ("x", True))] + v[1:]),
            Bad("int name", lambda v, kw: [(0, "mul", ("x", "y"))] + list(v)[1:]),
        ),
    )


def _values_kind():
    def change(key, value):
        return lambda v, kw: {**v, key: value}

    return Kind(
        "dict from input name to array",
        (
            _bad("None", None),
            Bad("list", lambda v, kw: list(v.values())),
            Bad("missing input", lambda v, kw: {k: v[k] for k in "xyz"}),
            Bad("int key", lambda v, kw: {**v, 0: v["x"]}),
            Bad("complex value", lambda v, kw: {**v, "x": v["x"] + 1j}),
            Bad("str value", change("x", "3")),
            Bad("None value", change("x", None)),
            Bad("ragged value", change("x", [[1.0, 2.0], [3.0]])),
            Bad("mismatched shapes", change("x", np.ones(3))),
        ),
    )


def _graph_backward_args():
    out, cache_ = backprop.graph_forward(_circuit(), _circuit_values())
    return dict(dout=_ints(out.shape, 5), cache=cache_)


def _jacobians():
    return [_ints((3, 4)), _ints((5, 3), 1), _ints((2, 5), 2)]


_JAC = _matrix_list("list [J_1, ..., J_L] of 2-D arrays in order of application")
_MATRICES = _matrix_list("list [A1, ..., An] of 2-D arrays")
_EMPTY_JAC = "no entries, an empty (0 x 0) Jacobian (documented shapes)"

CATALOGUE.update(
    {
        "lalib.backprop.linear_jacobian": Entry(
            lambda: dict(x=_ints((3, 4)), W=_ints((4, 2), 1)),
            dict(x=array("(N, D)", 2, coupled=1), W=array("(D, M)", 2, coupled=0)),
            {
                ("x", "empty axis 0"): EMPTY_BATCH,
                ("W", "empty last axis"): "M = 0 outputs: Jacobians with no rows",
            },
        ),
        "lalib.backprop.relu_jacobian": Entry(
            lambda: dict(x=_ints((3, 4))), dict(x=array("any shape", None))
        ),
        "lalib.backprop.softmax_jacobian": Entry(
            lambda: dict(p=activations.softmax(_ints((4,)))),
            dict(p=array("(K,)", 1)),
            {("p", "empty axis 0"): _EMPTY_JAC, ("p", "empty last axis"): _EMPTY_JAC},
        ),
        "lalib.backprop.vjp_chain": Entry(
            lambda: dict(jacobians=_jacobians(), v=_ints((2,), 3)),
            dict(jacobians=_JAC, v=array("(d_L,)", 1, coupled=0)),
            relational=frozenset({("jacobians", "not chaining")}),
        ),
        "lalib.backprop.jvp_chain": Entry(
            lambda: dict(jacobians=_jacobians(), u=_ints((4,), 3)),
            dict(jacobians=_JAC, u=array("(d_0,)", 1, coupled=0)),
            relational=frozenset({("jacobians", "not chaining")}),
        ),
        "lalib.backprop.chain_cost": Entry(
            lambda: dict(dims=[3, 4, 5, 2], order="((A1 A2) A3)"),
            dict(dims=_dims_kind(), order=_order_kind()),
        ),
        "lalib.backprop.chain_product": Entry(
            lambda: dict(matrices=_jacobians()[::-1], order=(0, (1, 2))),
            dict(matrices=_MATRICES, order=_order_kind()),
        ),
        "lalib.backprop.matrix_chain_order": Entry(
            lambda: dict(dims=[3, 4, 5, 2]), dict(dims=_dims_kind())
        ),
        "lalib.backprop.graph_forward": Entry(
            lambda: dict(nodes=_circuit(), values=_circuit_values()),
            dict(nodes=_nodes_kind(), values=_values_kind()),
            relational=frozenset({("values", "missing input")}),
        ),
        "lalib.backprop.graph_backward": Entry(
            _graph_backward_args,
            dict(dout=array("shape of the output", 1, coupled=0), cache=cache()),
        ),
    }
)


# positions -------------------------------------------------------------------------

_POS_ODD_D = {"d": (_bad("3 (odd)", 3),)}
_POS_X_VALID = {("x", "empty axis 0"): EMPTY_BATCH, ("positions", "None"): OPTIONAL}


def _rope_args():
    return dict(x=_ints((2, 3, 4)), positions=np.array([0.0, 2.0, 5.0]), base=100.0)


_ROPE_KINDS = dict(
    x=array("(..., n, d)", (">=", 2), coupled=-2),
    positions=array("(n,)", 1, coupled=0, finite=True),
    base=positive_finite(),
)
_ROPE_EXTRA = {"x": (_bad("odd d", np.ones((3, 5))),)}


def _rope_backward_args():
    out, cache_ = positions.rope_forward(**_rope_args())
    return dict(dout=_ints(out.shape, 4), cache=cache_)


def _rope_attention_args():
    return dict(
        x=_ints((2, 3, 4)),
        W_q=_ints((4, 4), 2),
        W_k=_ints((4, 4), 3),
        W_v=_ints((4, 4), 4),
        W_o=_ints((4, 3), 5),
        n_heads=2,
        positions=np.array([0.0, 1.0, 3.0]),
        base=100.0,
        causal=False,
    )


_ROPE_ATT_KINDS = dict(
    x=array("(..., n, D)", (">=", 2), coupled=-1),
    W_q=array("(D, h*d_k)", 2, coupled=0),
    W_k=array("(D, h*d_k)", 2, coupled=0),
    W_v=array("(D, h*d_v)", 2, coupled=0),
    W_o=array("(h*d_v, M)", 2, coupled=0),
    n_heads=size(1),
    positions=array("(n,)", 1, coupled=0, finite=True),
    base=positive_finite(),
    causal=flag(),
)
_ROPE_ATT_VALID = {
    ("x", "empty axis 0"): EMPTY_BATCH,
    ("W_o", "empty last axis"): "M = 0 output features gives an empty output",
    ("positions", "None"): OPTIONAL,
}
_ROPE_ATT_EXTRA = {
    "n_heads": (_bad("3 (does not divide)", 3), _bad("4 (odd d_k = 1)", 4)),
}


def _rope_attention_backward_args():
    out, cache_ = positions.rope_attention_forward(**_rope_attention_args())
    return dict(dout=_ints(out.shape, 6), cache=cache_)


CATALOGUE.update(
    {
        "lalib.positions.sinusoidal_encoding": Entry(
            lambda: dict(n=5, d=4, base=100.0, dtype=np.float32),
            dict(n=size(0), d=size(1), base=positive_finite(), dtype=dtype_kind()),
            {("dtype", "None"): NUMPY_NONE},
            extra=_POS_ODD_D,
        ),
        "lalib.positions.rope_frequencies": Entry(
            lambda: dict(d=6, base=100.0),
            dict(d=size(1), base=positive_finite()),
            extra=_POS_ODD_D,
        ),
        "lalib.positions.rope_matrix": Entry(
            lambda: dict(position=3, d=4, base=100.0),
            dict(position=real(what="position"), d=size(1), base=positive_finite()),
            extra=_POS_ODD_D,
        ),
        "lalib.positions.rope_forward": Entry(
            _rope_args, _ROPE_KINDS, _POS_X_VALID, _ROPE_EXTRA
        ),
        "lalib.positions.rope": Entry(
            _rope_args, _ROPE_KINDS, _POS_X_VALID, _ROPE_EXTRA
        ),
        "lalib.positions.rope_backward": Entry(
            _rope_backward_args,
            dict(dout=array("(..., n, d)", (">=", 2), coupled=-1), cache=cache()),
            {("dout", "empty axis 0"): EMPTY_BATCH},
        ),
        "lalib.positions.rope_attention_forward": Entry(
            _rope_attention_args, _ROPE_ATT_KINDS, _ROPE_ATT_VALID, _ROPE_ATT_EXTRA
        ),
        "lalib.positions.rope_attention": Entry(
            _rope_attention_args, _ROPE_ATT_KINDS, _ROPE_ATT_VALID, _ROPE_ATT_EXTRA
        ),
        "lalib.positions.rope_attention_backward": Entry(
            _rope_attention_backward_args,
            dict(dout=array("(..., n, M)", (">=", 2), coupled=-1), cache=cache()),
        ),
    }
)


# transformer -----------------------------------------------------------------------


def _ln_args():
    return dict(x=_ints((2, 3, 4)), gamma=_ints((4,), 1), beta=_ints((4,), 2), eps=1e-5)


_LN_KINDS = dict(
    x=array("(..., d)", (">=", 1), coupled=-1),
    gamma=array("(d,)", 1, coupled=0),
    beta=array("(d,)", 1, coupled=0),
    eps=positive_finite(),
)


def _ln_backward_args():
    out, cache_ = transformer.layer_norm_forward(**_ln_args())
    return dict(dout=_ints(out.shape, 3), cache=cache_)


def _ffn_args():
    return dict(
        x=_ints((2, 3, 4)),
        W1=_ints((4, 5), 1),
        b1=_ints((5,), 2),
        W2=_ints((5, 3), 3),
        b2=_ints((3,), 4),
    )


_FFN_KINDS = dict(
    x=array("(..., n, D)", (">=", 2), coupled=-1),
    W1=array("(D, d_ff)", 2, coupled=0),
    b1=array("(d_ff,)", 1, coupled=0),
    W2=array("(d_ff, M)", 2, coupled=0),
    b2=array("(M,)", 1, coupled=0),
)


def _ffn_backward_args():
    out, cache_ = transformer.feed_forward_forward(**_ffn_args())
    return dict(dout=_ints(out.shape, 5), cache=cache_)


def _block_args():
    return dict(
        x=_ints((2, 3, 4)),
        params=transformer.init_block_params(4, 2, 6, _gen()),
        n_heads=2,
        mask=np.random.default_rng(3).random((3, 3)) < 0.7,
        causal=False,
    )


def block_params():
    """The parameter dictionary of a transformer block (keys `PARAM_NAMES`)."""
    return Kind(
        "dict of block parameters",
        (
            _bad("None", None),
            _bad("'params'", "params"),
            Bad("list of values", lambda v, kw: list(v.values())),
            Bad("missing W_o", lambda v, kw: {k: v[k] for k in v if k != "W_o"}),
            Bad("extra key", lambda v, kw: dict(v, W_extra=v["W1"])),
            Bad("None element", lambda v, kw: dict(v, W_q=None)),
            Bad("complex element", lambda v, kw: dict(v, W1=v["W1"] + 1j)),
            Bad("ragged element", lambda v, kw: dict(v, b1=[[1.0, 2.0], [3.0]])),
            Bad("gamma2 rank 2", lambda v, kw: dict(v, gamma2=v["gamma2"][None])),
            Bad(
                "W_o too wide",
                lambda v, kw: dict(v, W_o=_grow(v["W_o"], 1)),
                relational=True,
            ),
            Bad(
                "W1 too wide",
                lambda v, kw: dict(v, W1=_grow(v["W1"], 1)),
                relational=True,
            ),
            Bad(
                "int64 elements",
                lambda v, kw: {k: np.rint(a).astype(np.int64) for k, a in v.items()},
                valid="integer input is promoted to float64 (CONTRIBUTING, dtypes)",
            ),
        ),
    )


_BLOCK_KINDS = dict(
    x=array("(..., n, d)", (">=", 2), coupled=-1),
    params=block_params(),
    n_heads=size(1),
    mask=mask(),
    causal=flag(),
)
_BLOCK_EXTRA = {"n_heads": (_bad("3 (does not divide)", 3),)}
_BLOCK_VALID = {("x", "empty axis 0"): EMPTY_BATCH}


def _block_backward_args():
    out, cache_ = transformer.transformer_block_forward(**_block_args())
    return dict(dout=_ints(out.shape, 5), cache=cache_)


CATALOGUE.update(
    {
        "lalib.transformer.centering_matrix": Entry(
            lambda: dict(d=4, dtype=np.float32),
            dict(d=size(1), dtype=dtype_kind()),
            {("dtype", "None"): NUMPY_NONE},
        ),
        "lalib.transformer.layer_norm_forward": Entry(
            _ln_args, _LN_KINDS, {("x", "empty axis 0"): EMPTY_BATCH}
        ),
        "lalib.transformer.layer_norm": Entry(
            _ln_args, _LN_KINDS, {("x", "empty axis 0"): EMPTY_BATCH}
        ),
        "lalib.transformer.layer_norm_backward": Entry(
            _ln_backward_args,
            dict(dout=array("(..., d)", (">=", 1), coupled=-1), cache=cache()),
        ),
        "lalib.transformer.feed_forward_forward": Entry(
            _ffn_args, _FFN_KINDS, {("x", "empty axis 0"): EMPTY_BATCH}
        ),
        "lalib.transformer.feed_forward": Entry(
            _ffn_args, _FFN_KINDS, {("x", "empty axis 0"): EMPTY_BATCH}
        ),
        "lalib.transformer.feed_forward_backward": Entry(
            _ffn_backward_args,
            dict(dout=array("(..., n, M)", (">=", 2), coupled=-1), cache=cache()),
        ),
        "lalib.transformer.init_block_params": Entry(
            lambda: dict(d=4, n_heads=2, d_ff=6, rng=_gen(), dtype=np.float32),
            dict(
                d=size(1),
                n_heads=size(1),
                d_ff=size(1),
                rng=rng_kind(),
                dtype=dtype_kind(),
            ),
            {("dtype", "None"): NUMPY_NONE},
            _BLOCK_EXTRA,
        ),
        "lalib.transformer.transformer_block_forward": Entry(
            _block_args, _BLOCK_KINDS, _BLOCK_VALID, _BLOCK_EXTRA
        ),
        "lalib.transformer.transformer_block": Entry(
            _block_args, _BLOCK_KINDS, _BLOCK_VALID, _BLOCK_EXTRA
        ),
        "lalib.transformer.transformer_block_backward": Entry(
            _block_backward_args,
            dict(dout=array("(..., n, d)", (">=", 2), coupled=-1), cache=cache()),
        ),
    }
)


# lowrank ---------------------------------------------------------------------------


def _lowrank_params():
    return mlp.init_params([4, 5, 3], _gen())  # layers (4, 5) and (5, 3)


def _lowrank_adapters():
    rng = np.random.default_rng(1)
    return [
        (rng.standard_normal((4, 2)), rng.standard_normal((2, 5))),
        None,
    ]


def _lowrank_lora_args():
    return dict(
        x=_ints((3, 4)), W=_ints((4, 3), 1), b=_ints((3,), 2), A=_ints((4, 2), 3),
        B=_ints((2, 3), 4), alpha=0.5,
    )  # fmt: skip


def _lowrank_backward_args():
    out, cache_ = lowrank.lora_forward(**_lowrank_lora_args())
    return dict(dout=_ints(out.shape, 5), cache=cache_)


_LOWRANK_RANKS = Kind(
    "one rank (int) or None per layer",
    (
        _bad("None", None),
        _bad("2", 2),
        _bad("[]", []),
        _bad("one short", [2]),
        _bad("one long", [2, None, None]),
        _bad("[2.5, None]", [2.5, None]),
        _bad("[True, None]", [True, None]),
        _bad("[0, None]", [0, None]),
        _bad("['2', None]", ["2", None]),
        _bad("[5, None] (> min(D, M))", [5, None]),
        _bad("[None, 4] (> min(D, M))", [None, 4]),
        _bad("[2**70, None]", [HUGE, None], huge=True),
    ),
)
_LOWRANK_ADAPTERS = Kind(
    "None or an (A, B) pair per layer",
    (
        _bad("None", None),
        _bad("'adapters'", "adapters"),
        _bad("[]", []),
        Bad("one short", lambda v, kw: list(v)[:1]),
        Bad("bare array entry", lambda v, kw: [np.ones((4, 2))] + list(v)[1:]),
        Bad("triple", lambda v, kw: [tuple(v[0]) + (v[0][1],)] + list(v)[1:]),
        Bad("A rows", lambda v, kw: [(_grow(v[0][0], 0), v[0][1])] + list(v)[1:]),
        Bad("B columns", lambda v, kw: [(v[0][0], _grow(v[0][1], 1))] + list(v)[1:]),
        Bad("r mismatch", lambda v, kw: [(v[0][0], _grow(v[0][1], 0))] + list(v)[1:]),
        Bad("r too large", lambda v, kw: [(np.ones((4, 5)), np.ones((5, 5))), None]),
        Bad("rank 0", lambda v, kw: [(np.ones((4, 0)), np.ones((0, 5))), None]),
        Bad("complex A", lambda v, kw: [(v[0][0] + 1j, v[0][1])] + list(v)[1:]),
        Bad("None A", lambda v, kw: [(None, v[0][1])] + list(v)[1:]),
    ),
)
_LOWRANK_W = dict(W=array("(D, M)", 2), r=size(1))
_LOWRANK_R_BIG = {"r": (_bad("min(D, M) + 1", 4),)}
_LOWRANK_LORA_KINDS = dict(
    x=array("(N, D)", 2, coupled=1),
    W=array("(D, M)", 2, coupled=0),
    b=array("(M,)", 1, coupled=0),
    A=array("(D, r)", 2, coupled=0),
    B=array("(r, M)", 2, coupled=1),
    alpha=real(what="finite real number"),
)
_LOWRANK_LORA_VALID = {("x", "empty axis 0"): EMPTY_BATCH}
_LOWRANK_MLP_KINDS = dict(
    params=param_list(),
    adapters=_LOWRANK_ADAPTERS,
    x=array("(N, D)", 2, coupled=1),
    labels=labels(),
    alpha=real(what="finite real number"),
)
_LOWRANK_Y_K = (_bad("K", np.array([0, 1, 2, 3, 0, 1])),)

CATALOGUE.update(
    {
        "lalib.lowrank.low_rank_factors": Entry(
            lambda: dict(W=_ints((4, 3)), r=2), _LOWRANK_W, extra=_LOWRANK_R_BIG
        ),
        "lalib.lowrank.low_rank_approx": Entry(
            lambda: dict(W=_ints((4, 3)), r=2), _LOWRANK_W, extra=_LOWRANK_R_BIG
        ),
        "lalib.lowrank.eckart_young_errors": Entry(
            lambda: dict(W=_ints((4, 3))), dict(W=array("(D, M)", 2))
        ),
        "lalib.lowrank.compress_params": Entry(
            lambda: dict(params=_lowrank_params(), ranks=[2, None]),
            dict(params=param_list(), ranks=_LOWRANK_RANKS),
        ),
        "lalib.lowrank.init_lora": Entry(
            lambda: dict(W=_ints((4, 3)), r=2, rng=_gen()),
            dict(_LOWRANK_W, rng=rng_kind()),
            extra=_LOWRANK_R_BIG,
        ),
        "lalib.lowrank.lora_forward": Entry(
            _lowrank_lora_args, _LOWRANK_LORA_KINDS, _LOWRANK_LORA_VALID
        ),
        "lalib.lowrank.lora": Entry(
            _lowrank_lora_args, _LOWRANK_LORA_KINDS, _LOWRANK_LORA_VALID
        ),
        "lalib.lowrank.lora_backward": Entry(
            _lowrank_backward_args,
            dict(dout=array("(N, M)", 2, coupled=1), cache=cache()),
        ),
        "lalib.lowrank.lora_mlp_loss": Entry(
            lambda: dict(
                params=_lowrank_params(),
                adapters=_lowrank_adapters(),
                x=_ints((6, 4)),
                labels=_y(),
                alpha=0.5,
            ),
            _LOWRANK_MLP_KINDS,
            extra={"labels": _LOWRANK_Y_K},
        ),
        "lalib.lowrank.merge_lora": Entry(
            lambda: dict(
                params=_lowrank_params(), adapters=_lowrank_adapters(), alpha=0.5
            ),
            dict(
                params=param_list(),
                adapters=_LOWRANK_ADAPTERS,
                alpha=real(what="finite real number"),
            ),
        ),
        "lalib.lowrank.train_lora": Entry(
            lambda: dict(
                params=_lowrank_params(),
                adapters=_lowrank_adapters(),
                X=_ints((6, 4)),
                y=_y(),
                epochs=2,
                batch_size=4,
                lr=0.01,
                rng=_gen(),
                alpha=0.5,
                X_test=_ints((4, 4), 1),
                y_test=_y(4, 1),
            ),
            dict(
                params=param_list(),
                adapters=_LOWRANK_ADAPTERS,
                X=array("(N, D)", 2, coupled=1, finite=True),
                y=labels(),
                epochs=size(1),
                batch_size=size(1),
                lr=positive_finite(),
                rng=rng_kind(),
                alpha=real(what="finite real number"),
                X_test=array("(N_test, D)", 2, coupled=1, finite=True),
                y_test=labels("(N_test,)"),
            ),
            {
                ("epochs", "2**70"): NOT_RUN + "it would train for 2**70 epochs",
                (
                    "batch_size",
                    "2**70",
                ): "a batch larger than N is one batch of all rows",
            },
            extra={
                "y": _LOWRANK_Y_K,
                "y_test": (_bad("K", np.array([0, 1, 3, 0])),),
            },
            mutates=("adapters",),
        ),
    }
)


# ------------------------------------------------------------------ memory cases

#: Size-like arguments of conv and attention set huge while the input stays tiny. Each
#: call must either be refused cleanly or peak (tracemalloc) below
#: ``factor * result bytes + MEMORY_SLACK``, the result being every array it returns,
#: caches included (so the columns the readable conv2d_forward documents keeping
#: count). `MEMORY_SLACK` is two of the engine's column blocks (COLUMN_BLOCK_BYTES).
MEMORY_SLACK = 8 * 2**20


def _tiny_conv(**geometry):
    return dict(
        x=_ints((1, 1, 2, 2)), w=_ints((1, 1, 3, 3), 1), b=_ints((1,), 2), **geometry
    )


def _big_kernel(k):
    return dict(
        x=_ints((1, 1, 2, 2)),
        w=_ints((1, 1, k, k), 1),
        b=None,
        stride=(k - 1, 1),
        padding=k - 1,
    )


_FAR = dict(stride=10**4, padding=10**4)  # a 3 x 3 output, 2 x 2 of it padding

MEMORY_CASES = {
    # name: (qualname, kwargs factory, factor)
    "conv2d_naive padding=stride=10**4": (
        "lalib.conv.conv2d_naive", lambda: _tiny_conv(**_FAR), 4),
    "conv2d_forward padding=stride=10**4": (
        "lalib.conv.conv2d_forward", lambda: _tiny_conv(**_FAR), 4),
    "conv2d padding=stride=10**4": (
        "lalib.conv.conv2d", lambda: _tiny_conv(**_FAR), 4),
    "engine conv2d_forward padding=stride=10**4": (
        "lalib.engine.conv.conv2d_forward", lambda: _tiny_conv(**_FAR), 4),
    "im2col padding=stride=10**4": (
        "lalib.conv.im2col",
        lambda: dict(x=_ints((1, 1, 2, 2)), kernel_size=3, **_FAR), 4),
    "col2im padding=stride=10**4": (
        "lalib.conv.col2im",
        lambda: dict(cols=_ints((1, 9, 9)), x_shape=(1, 1, 2, 2), kernel_size=3,
                     **_FAR), 4),
    "toeplitz_matrix padding=stride=10**4": (
        "lalib.conv.toeplitz_matrix",
        lambda: dict(w=_ints((1, 1, 3, 3)), input_shape=(1, 2, 2), **_FAR), 4),
    "column_blocks padding=stride=10**4": (
        "lalib.engine.conv.column_blocks",
        lambda: dict(x=_ints((1, 1, 2, 2)), kernel_size=3, **_FAR), 4),
    "conv2d padding=10**3 (a 2000 x 2000 output)": (
        "lalib.conv.conv2d", lambda: _tiny_conv(stride=1, padding=10**3), 4),
    "engine conv2d_forward padding=10**3": (
        "lalib.engine.conv.conv2d_forward",
        lambda: _tiny_conv(stride=1, padding=10**3), 4),
    "conv2d_forward padding=10**3": (
        "lalib.conv.conv2d_forward",
        lambda: _tiny_conv(stride=1, padding=10**3), 4),
    "conv2d padding=10**5 (output beyond the cap)": (
        "lalib.conv.conv2d", lambda: _tiny_conv(stride=1, padding=10**5), 4),
    "attention_blockwise block_size=10**9": (
        "lalib.attention.attention_blockwise",
        lambda: dict(_qkv(), block_size=10**9), 4),
    "engine attention_blockwise block_size=10**9": (
        "lalib.engine.attention.attention_blockwise",
        lambda: dict(_qkv(), block_size=10**9), 4),
    # A "full" convolution (padding KH - 1) of a 2 x 2 image with a 128 x 128 kernel,
    # vertical stride 127: a (2, 129) output of 2 KiB. One output row of its columns
    # is 16384 x 129 x 8 B = 17 MB; the readable version's cache keeps both rows.
    "conv2d full 128 x 128 kernel": (
        "lalib.conv.conv2d", lambda: _big_kernel(128), 4),
    "engine conv2d_forward full 128 x 128 kernel": (
        "lalib.engine.conv.conv2d_forward", lambda: _big_kernel(128), 4),
    "conv2d_forward full 128 x 128 kernel (its cache keeps the columns)": (
        "lalib.conv.conv2d_forward", lambda: _big_kernel(128), 4),
    "im2col full 256 x 256 kernel (columns beyond the cap)": (
        "lalib.conv.im2col",
        lambda: dict(x=_ints((1, 1, 2, 2)), kernel_size=256, stride=1, padding=255), 4),
    # A typical layer, to show the bound is not too tight for ordinary work.
    "engine conv2d_forward a typical layer": (
        "lalib.engine.conv.conv2d_forward",
        lambda: dict(x=_ints((8, 16, 32, 32)), w=_ints((32, 16, 3, 3)), b=None,
                     stride=1, padding=1), 4),
    # 12: the key positions are an int64 arange, 8 bytes per 1-byte mask entry.
    "causal_mask n_q=1, n_k=10**6": (
        "lalib.attention.causal_mask", lambda: dict(n_q=1, n_k=10**6), 12),
    "causal_mask n_q=n_k=10**6 (output beyond the cap)": (
        "lalib.attention.causal_mask", lambda: dict(n_q=10**6, n_k=10**6), 4),
}  # fmt: skip


# --------------------------------------------------------------- known failures

#: Failing cases in conv, attention and the engine, by test id (none today). Each
#: runs as ``xfail(strict=True)``: when a fix lands the case passes, the strict xfail
#: fails, and its entry here must be deleted. Only ids of those modules may appear
#: (`test_known_failures_are_confined` checks it): failures elsewhere are real failures.
KNOWN_FAILURES: dict[str, str] = {}
