"""lalib's contract, checked over the whole public API of its kernel modules.

CONTRIBUTING promises that bad input gets a ValueError (or a TypeError for a wrong kind
of object) whose message names what was received and what was expected: never a raw
error from inside NumPy, never a silent wrong answer, never a giant allocation; that no
call modifies its inputs; and that NaN propagates where the mathematics says it does.

- The public callables are discovered (pkgutil over `lalib` and its subpackages, the
  ``__all__`` of each kernel module): a new function, or a new parameter, fails
  `test_catalogue_covers_the_public_api` / `test_entry_covers_the_signature` until
  `tests/contract_catalogue.py` describes it.
- `test_bad_input_is_refused_cleanly`: for every (function, argument, bad value of the
  argument's kind), the otherwise valid call must raise exactly ValueError or TypeError
  naming the argument (or the value received), and leave the other inputs unchanged.
  Values the catalogue marks as legitimately valid must be accepted instead.
- `test_valid_call_leaves_inputs_unchanged`, `test_read_only_inputs_are_accepted`.
- `test_huge_sizes_are_refused_or_cheap`: huge sizes for conv and attention, peak
  memory measured with tracemalloc in a forked child under an address-space cap.
- The ``test_nan_*`` tests: NaN reaches exactly the outputs that depend on it.

Failing cases of conv, attention and the engine are listed in
`contract_catalogue.KNOWN_FAILURES` and run as strict xfails.
"""

import importlib
import inspect
import math
import os
import pickle
import pkgutil
import re
import resource
import select
import signal
import threading
import time
import tracemalloc
import warnings

import numpy as np
import pytest
from contract_catalogue import (
    CATALOGUE,
    KNOWN_FAILURES,
    MEMORY_CASES,
    MEMORY_SLACK,
    NOT_RUN,
    Bad,
)
from hypothesis import assume, given
from hypothesis import strategies as st

import lalib
from lalib import (
    activations,
    attention,
    conv,
    decomp,
    gradcheck,
    linear,
    losses,
    mlp,
    optim,
)
from lalib.engine import attention as eng_attention
from lalib.engine import conv as eng_conv

# ------------------------------------------------------------------------- discovery

#: Not kernels: figures and widgets, exercise checkers, wall-clock timing.
EXCLUDED = ("lalib.display", "lalib.exercises", "lalib.timing")
#: What discovery must find at least (so that a broken discovery cannot pass quietly).
EXPECTED_MODULES = {
    f"lalib.{m}"
    for m in (
        "linear activations losses mlp conv attention decomp optim gradcheck data "
        "engine.conv engine.attention engine.winograd engine.fft fourier "
        "backprop positions transformer lowrank"
    ).split()
}
#: The modules being fixed now: only their cases may be listed in KNOWN_FAILURES.
XFAIL_PREFIXES = ("lalib.conv", "lalib.attention", "lalib.engine")


def _within(name, prefixes):
    """Is `name` one of the dotted `prefixes` or inside one of them?"""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def kernel_modules():
    """Every public, non-excluded module under `lalib`, subpackages walked."""
    found, packages = [], [lalib]
    while packages:
        pkg = packages.pop()
        for info in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
            short = info.name.rsplit(".", 1)[1]
            if short.startswith("_") or _within(info.name, EXCLUDED):
                continue
            module = importlib.import_module(info.name)
            (packages if info.ispkg else found).append(module)
    return sorted(found, key=lambda m: m.__name__)


def defined_public(module):
    """Public functions and classes defined in `module` (not imported into it)."""
    return sorted(
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    )


def public_callables():
    """qualified name -> callable, from each module's ``__all__`` (its public
    definitions when it has none yet); a class brings its public methods."""
    result = {}
    for module in kernel_modules():
        names = getattr(module, "__all__", None) or defined_public(module)
        for name in names:
            obj = getattr(module, name)
            if not callable(obj):
                continue  # a constant such as COLUMN_BLOCK_BYTES
            result[f"{module.__name__}.{name}"] = obj
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if not attr.startswith("_") and callable(member):
                        result[f"{module.__name__}.{name}.{attr}"] = member
    return result


def resolve(qualname):
    """The object a dotted name such as ``lalib.linear.LinearLayer.forward`` names."""
    parts = qualname.split(".")
    for i in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:i])
        try:
            obj = importlib.import_module(module_name)
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise LookupError(qualname)


#: Every parametrized case id -> the module or callable it tests.
CASE_SUBJECTS = {}


def _param(case_id, subject, *values):
    """A parametrized case, a strict xfail if `KNOWN_FAILURES` lists its id."""
    CASE_SUBJECTS[case_id] = subject
    reason = KNOWN_FAILURES.get(case_id)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(*values, id=case_id, marks=marks)


# ---------------------------------------------------------------------- the checks

_WORD = r"(?<![A-Za-z0-9_]){}(?![A-Za-z0-9_])"

#: Fragments of NumPy's and Python's own messages: an error whose message only
#: echoes the value inside one of these was not raised by lalib's checks.
RAW_MESSAGES = (
    "could not be broadcast",
    "not enough values to unpack",
    "too many values to unpack",
    "invalid literal",
    "has no attribute",
    "has no len",
    "not subscriptable",
    "not iterable",
    "unsupported operand",
    "not supported between",
    "Maximum allowed size",
    "array is too big",
    "inhomogeneous",
    "setting an array element",
    "truth value of an array",
    "read-only",
    "cannot reshape",
    "out of bounds",
    "ufunc",
    "Cannot cast",
    "argument must be",
    "cannot be interpreted as an integer",
    "negative dimensions",
    "Unable to allocate",
    "core dimension",
    "Singular matrix",
    "object arrays are not supported",
)


def _tokens(value):
    """Ways a message can show the value it received."""
    if isinstance(value, np.ndarray):
        return [str(value.shape), str(value.dtype)]
    text = repr(value)
    tokens = [text] if len(text) < 200 else []
    if not isinstance(value, (str, int, float, complex, list, tuple, type(None))):
        tokens.append(type(value).__name__)
    return tokens


def names_it(message, names, value):
    """Does `message` name one of `names`, or show `value` (outside a raw message)?"""
    if any(re.search(_WORD.format(re.escape(n)), message) for n in names):
        return True
    raw = any(fragment in message for fragment in RAW_MESSAGES)
    return not raw and any(t in message for t in _tokens(value))


def _snapshot(obj):
    """A deep copy of every array reachable in `obj` (generators and callables kept)."""
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, (list, tuple)):
        return [_snapshot(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _snapshot(v) for k, v in obj.items()}
    if isinstance(obj, linear.LinearLayer):
        return _snapshot(vars(obj))
    return obj


def _same(before, after):
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or before.shape != after.shape:
            return False
        if before.dtype != after.dtype:
            return False
        try:
            return bool(np.array_equal(before, after, equal_nan=True))
        except TypeError:  # object or string arrays
            return bool(np.array_equal(before, after))
    if isinstance(before, list):
        after = list(after) if isinstance(after, (list, tuple)) else after
        return (
            isinstance(after, list)
            and len(before) == len(after)
            and all(_same(b, a) for b, a in zip(before, after))
        )
    if isinstance(after, linear.LinearLayer):
        return _same(before, vars(after))
    if isinstance(before, dict):
        return before.keys() == after.keys() and all(
            _same(before[k], after[k]) for k in before
        )
    return True  # scalars, generators (drawing from them is their use), callables


def _freeze(obj):
    """Make every array reachable in `obj` read-only."""
    if isinstance(obj, np.ndarray):
        obj.setflags(write=False)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _freeze(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            _freeze(o)
    elif isinstance(obj, linear.LinearLayer):
        _freeze(vars(obj))


def _result_bytes(result, seen=None):
    """Bytes of the distinct buffers of every array in a (nested) result."""
    seen = set() if seen is None else seen
    if isinstance(result, np.ndarray):
        base = result
        while isinstance(base.base, np.ndarray):
            base = base.base
        if id(base) in seen:
            return 0
        seen.add(id(base))
        return base.nbytes
    if isinstance(result, (list, tuple)):
        return sum(_result_bytes(r, seen) for r in result)
    return 0


def execute(qualname, kwargs, watch, measure=False):
    """Call `qualname` with `kwargs`; report what it raised and which of the arguments
    in `watch` it modified. A plain dict, so that a forked child can send it back.

    With `measure`, the call runs in a new thread under tracemalloc: the engine keeps
    scratch buffers per thread, so the peak then includes the ones the call needs
    rather than depending on what ran before it in this thread.
    """
    entry = CATALOGUE[qualname]
    fn = resolve(qualname)
    before = {name: _snapshot(kwargs[name]) for name in watch}
    report = {"error": None, "exact": False, "peak": None, "result_bytes": None}

    def call():
        try:
            result = fn(**kwargs)
            if entry.consume:
                result = list(result)
            if measure:
                report["peak"] = tracemalloc.get_traced_memory()[1]
                report["result_bytes"] = _result_bytes(result)
        except Exception as exc:  # the type is what is checked
            report["error"] = (type(exc).__qualname__, str(exc))
            report["exact"] = type(exc) in (ValueError, TypeError)

    if measure:
        tracemalloc.start()
        try:
            thread = threading.Thread(target=call)
            thread.start()
            thread.join()
        finally:
            tracemalloc.stop()
    else:
        call()
    report["mutated"] = [n for n in watch if not _same(before[n], kwargs[n])]
    return report


def _vm_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


CAP_HEADROOM = 2**30  # address space a capped child may add to what it inherits


def in_child(fn, timeout=120):
    """Run `fn()` in a forked child whose address space is capped at what this process
    holds plus `CAP_HEADROOM`, and return its (picklable) result.

    A huge allocation then fails at once with MemoryError in the child instead of
    swapping the machine; a crash is reported, not inherited. `timeout` only guards
    against a hang: nothing is measured in time.
    """
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # Python >= 3.12 warns when threads exist (BLAS)
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            cap = _vm_bytes() + CAP_HEADROOM
            if hard != resource.RLIM_INFINITY:
                cap = min(cap, hard)
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
            payload = pickle.dumps(("ok", fn()))
        except BaseException as exc:
            payload = pickle.dumps(("child failed", repr(exc)))
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(0)
    os.close(write_end)
    chunks, deadline = [], time.monotonic() + timeout
    with os.fdopen(read_end, "rb") as pipe:
        while True:
            ready, _, _ = select.select(
                [pipe], [], [], max(0, deadline - time.monotonic())
            )
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"the capped child did not finish in {timeout} s")
            chunk = os.read(pipe.fileno(), 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        pytest.fail(f"the capped child died without a report (wait status {status})")
    tag, value = pickle.loads(b"".join(chunks))
    assert tag == "ok", f"the capped child failed outside the call: {value}"
    return value


# ------------------------------------------------------------------- coverage tests


def test_discovery_finds_the_kernel_modules():
    found = {m.__name__ for m in kernel_modules()}
    assert EXPECTED_MODULES <= found, f"missing: {sorted(EXPECTED_MODULES - found)}"
    assert not any(_within(name, EXCLUDED) for name in found)


@pytest.mark.parametrize(
    "module_name",
    [_param(f"all:{name}", name, name) for name in sorted(EXPECTED_MODULES)],
)
def test_module_declares_its_public_api(module_name):
    """``__all__`` exists and lists every public function and class defined here."""
    module = importlib.import_module(module_name)
    assert hasattr(module, "__all__"), f"{module_name} has no __all__"
    missing = set(defined_public(module)) - set(module.__all__)
    assert not missing, f"{module_name}.__all__ lacks {sorted(missing)}"
    absent = [n for n in module.__all__ if not hasattr(module, n)]
    assert not absent, f"{module_name}.__all__ names undefined {absent}"


def test_catalogue_covers_the_public_api():
    public = set(public_callables())
    missing = sorted(public - set(CATALOGUE))
    stale = sorted(set(CATALOGUE) - public)
    assert not missing, f"public callables without a catalogue entry: {missing}"
    assert not stale, f"catalogue entries that are not public callables: {stale}"


@pytest.mark.parametrize("qualname", sorted(CATALOGUE))
def test_entry_covers_the_signature(qualname):
    """Every parameter has a kind and a valid value; every `valid` override names a
    generated case."""
    entry = CATALOGUE[qualname]
    obj = resolve(qualname)
    params = set(inspect.signature(obj).parameters)
    assert set(entry.kinds) == params, (
        f"kinds {sorted(entry.kinds)} != {sorted(params)}"
    )
    assert set(entry.make()) == params
    labels = {(arg, bad.label) for arg, bad in _bads(entry)}
    stray = (set(entry.valid) | entry.relational) - labels
    assert not stray, f"overrides for cases never generated: {sorted(stray)}"
    assert set(entry.mutates) <= params and set(entry.extra) <= params


def _bads(entry):
    for arg, kind in entry.kinds.items():
        for bad in kind.bads + tuple(entry.extra.get(arg, ())):
            yield arg, bad


# --------------------------------------------------------------- bad-input cases


def _expectation(entry, arg, bad):
    """None if the value must be refused, else why it is valid."""
    if (arg, bad.label) in entry.valid:
        return entry.valid[(arg, bad.label)]
    return bad.valid


def bad_cases():
    cases = []
    for qualname in sorted(CATALOGUE):
        entry = CATALOGUE[qualname]
        for arg, bad in _bads(entry):
            case_id = f"bad:{qualname}:{arg}:{bad.label}"
            cases.append(_param(case_id, qualname, qualname, arg, bad))
    return cases


BAD_CASES = bad_cases()

#: A huge but valid size (a stride beyond the image, one block for everything) may
#: cost this many times the bytes of the result, plus `MEMORY_SLACK`.
HUGE_VALID_FACTOR = 4


def _run_bad(qualname, arg, bad, measure=False):
    entry = CATALOGUE[qualname]
    kwargs = entry.make()
    kwargs[arg] = bad.make(kwargs[arg], kwargs)
    # A refused call must not half-modify the other inputs; a valid one must not
    # modify any input it does not document modifying.
    watch = [n for n in kwargs if n != arg]
    if _expectation(entry, arg, bad):
        watch = [n for n in watch if n not in entry.mutates]
    report = execute(qualname, kwargs, watch, measure=measure)
    report["bad"] = kwargs[arg]
    return report


@pytest.mark.parametrize(("qualname", "arg", "bad"), BAD_CASES)
def test_bad_input_is_refused_cleanly(qualname, arg, bad: Bad):
    entry = CATALOGUE[qualname]
    why_valid = _expectation(entry, arg, bad)
    if why_valid and why_valid.startswith(NOT_RUN):
        pytest.skip(why_valid)
    if bad.huge:  # valid ones are measured too: a huge size must not cost memory
        report = in_child(lambda: _strip(_run_bad(qualname, arg, bad, bool(why_valid))))
        value = bad.make(None, {})
    else:
        report = _run_bad(qualname, arg, bad)
        value = report["bad"]
    call = f"{qualname}({arg}={bad.label})"
    if why_valid:
        assert report["error"] is None, (
            f"{call} is valid ({why_valid}) but raised {report['error']}"
        )
        if report["peak"] is not None:
            bound = HUGE_VALID_FACTOR * report["result_bytes"] + MEMORY_SLACK
            assert report["peak"] <= bound, f"{call}: peak {report['peak']} B > {bound}"
    else:
        assert report["error"] is not None, f"{call} was accepted"
        kind, message = report["error"]
        assert report["exact"], (
            f"{call} raised {kind}, not ValueError/TypeError: {message}"
        )
        relational = bad.relational or (arg, bad.label) in entry.relational
        names = list(entry.kinds) if relational else [arg]
        assert names_it(message, names, value), (
            f"{call}: the message names neither {names} nor the value: {message!r}"
        )
    assert not report["mutated"], f"{call} modified {report['mutated']}"


def _strip(report):
    report.pop("bad", None)  # may not pickle (a module); the parent rebuilds it
    return report


# ---------------------------------------------------------------- valid-call tests


@pytest.mark.parametrize(
    "qualname", [_param(f"valid:{q}", q, q) for q in sorted(CATALOGUE)]
)
def test_valid_call_leaves_inputs_unchanged(qualname):
    entry = CATALOGUE[qualname]
    kwargs = entry.make()
    watch = [n for n in kwargs if n not in entry.mutates]
    report = execute(qualname, kwargs, watch)
    assert report["error"] is None, (
        f"the catalogue's valid call raised {report['error']}"
    )
    assert not report["mutated"], f"{qualname} modified {report['mutated']}"


@pytest.mark.parametrize(
    "qualname", [_param(f"readonly:{q}", q, q) for q in sorted(CATALOGUE)]
)
def test_read_only_inputs_are_accepted(qualname):
    """A read-only input works, except where the function documents writing into it:
    then a clean error names that argument."""
    entry = CATALOGUE[qualname]
    kwargs = entry.make()
    _freeze(kwargs)
    report = execute(qualname, kwargs, [])
    if not entry.mutates:
        assert report["error"] is None, f"read-only inputs: {report['error']}"
        return
    assert report["error"] is not None, "wrote into a read-only input"
    kind, message = report["error"]
    assert report["exact"] and names_it(message, entry.mutates, None), message


# ------------------------------------------------------------------- memory tests


def _memory_report(name):
    qualname, make, factor = MEMORY_CASES[name]
    report = execute(qualname, make(), [], measure=True)
    report["factor"] = factor
    report["args"] = list(CATALOGUE[qualname].kinds)
    return report


@pytest.mark.parametrize(
    "name", [_param(f"memory:{n}", MEMORY_CASES[n][0], n) for n in sorted(MEMORY_CASES)]
)
def test_huge_sizes_are_refused_or_cheap(name):
    """A huge size with a tiny input: a clean refusal, or a peak near the result."""
    report = in_child(lambda: _memory_report(name))
    if report["error"] is not None:
        kind, message = report["error"]
        assert report["exact"], f"raised {kind}, not ValueError/TypeError: {message}"
        assert names_it(message, report["args"], None), message
        return
    bound = report["factor"] * report["result_bytes"] + MEMORY_SLACK
    assert report["peak"] <= bound, (
        f"peak {report['peak'] / 2**20:.1f} MiB for a result of "
        f"{report['result_bytes'] / 2**20:.3f} MiB (bound {bound / 2**20:.1f} MiB)"
    )


# ---------------------------------------------------------------------- NaN tests


def _normal(rng, *shape):
    return rng.standard_normal(shape)


def _only_nan_where(result, expected, what):
    got = np.isnan(result)
    assert np.array_equal(got, expected), (
        f"{what}: NaN at {np.argwhere(got).tolist()}, expected at "
        f"{np.argwhere(expected).tolist()}"
    )


@given(
    n=st.integers(1, 4),
    d=st.integers(1, 4),
    m=st.integers(1, 4),
    where=st.sampled_from(["x", "W", "b"]),
    data=st.data(),
)
def test_nan_linear_forward(n, d, m, where, data):
    rng = np.random.default_rng(0)
    args = {"x": _normal(rng, n, d), "W": _normal(rng, d, m), "b": _normal(rng, m)}
    pos = tuple(data.draw(st.integers(0, s - 1)) for s in args[where].shape)
    args[where][pos] = np.nan
    expected = np.zeros((n, m), dtype=bool)
    if where == "x":
        expected[pos[0]] = True  # the row of that example
    else:
        expected[:, pos[-1]] = True  # the output feature of that weight or bias
    _only_nan_where(linear.linear_forward(**args)[0], expected, f"NaN in {where}{pos}")
    _only_nan_where(linear.linear(**args), expected, f"NaN in {where}{pos}")


@given(n=st.integers(1, 4), d=st.integers(1, 4), m=st.integers(1, 4), data=st.data())
def test_nan_linear_backward(n, d, m, data):
    rng = np.random.default_rng(1)
    _, cache = linear.linear_forward(
        _normal(rng, n, d), _normal(rng, d, m), np.zeros(m)
    )
    dout = _normal(rng, n, m)
    i, k = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, m - 1))
    dout[i, k] = np.nan
    dx, dW, db = linear.linear_backward(dout, cache)
    row_i, col_k = np.zeros((n, d), bool), np.zeros((d, m), bool)
    row_i[i], col_k[:, k] = True, True
    _only_nan_where(dx, row_i, "dx = dout @ W.T: row i")
    _only_nan_where(dW, col_k, "dW = x.T @ dout: column k")
    _only_nan_where(db, np.arange(m) == k, "db")


@st.composite
def _array_and_axis(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    pos = tuple(draw(st.integers(0, s - 1)) for s in shape)
    return shape, axis, pos


def _slice_through(shape, axis, pos):
    """True on the 1-D slice along `axis` through `pos`."""
    expected = np.zeros(shape, dtype=bool)
    index = list(pos)
    index[axis] = slice(None)
    expected[tuple(index)] = True
    return expected


@given(case=_array_and_axis())
def test_nan_softmax_poisons_only_its_slice(case):
    shape, axis, pos = case
    z = np.random.default_rng(0).standard_normal(shape)
    z[pos] = np.nan
    expected = _slice_through(shape, axis, pos)
    _only_nan_where(activations.softmax(z, axis=axis), expected, f"softmax {case}")


@given(case=_array_and_axis())
def test_nan_softmax_rows_inplace(case):
    shape, _, pos = case
    S = np.random.default_rng(0).standard_normal(shape)
    S[pos] = np.nan
    expected = _slice_through(shape, -1, pos)
    out = eng_attention.softmax_rows_inplace(S.copy())
    _only_nan_where(out, expected, f"softmax_rows_inplace {case}")


@given(case=_array_and_axis())
def test_nan_relu_and_squared_error(case):
    shape, _, pos = case
    x = np.random.default_rng(0).standard_normal(shape)
    x[pos] = np.nan
    expected = np.zeros(shape, dtype=bool)
    expected[pos] = True
    _only_nan_where(activations.relu(x), expected, "relu")
    L, grad = losses.squared_error(x, np.zeros(shape))
    assert math.isnan(L)
    _only_nan_where(grad, expected, "squared_error gradient")


@given(n=st.integers(1, 5), data=st.data())
def test_nan_mlp_forward_poisons_only_its_row(n, data):
    params = mlp.init_params([3, 4, 2], np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((n, 3))
    i, j = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, 2))
    x[i, j] = np.nan
    scores = mlp.mlp_forward(params, x)[0]
    _only_nan_where(scores, (np.arange(n) == i)[:, None] & np.ones(2, bool), "scores")


# conv -------------------------------------------------------------------------------

CONV_FORWARD = {
    "lalib.conv.conv2d": conv.conv2d,
    "lalib.conv.conv2d_naive": conv.conv2d_naive,
    "lalib.conv.conv2d_forward": lambda *a: conv.conv2d_forward(*a)[0],
    "lalib.engine.conv.conv2d_forward": lambda *a: eng_conv.conv2d_forward(*a)[0],
}
CONV_BACKWARD = {
    "lalib.conv.conv2d_backward": (conv.conv2d_forward, conv.conv2d_backward),
    "lalib.engine.conv.conv2d_backward": (
        eng_conv.conv2d_forward,
        eng_conv.conv2d_backward,
    ),
}


@st.composite
def _conv_geometry(draw):
    g = {k: draw(st.integers(1, 2)) for k in ("N", "C", "F")}
    g.update({k: draw(st.integers(1, 6)) for k in ("H", "W")})
    g.update({k: draw(st.integers(1, 3)) for k in ("KH", "KW", "sh", "sw")})
    # Padding at most KH - 1 (KW - 1): more only adds windows of zeros (refused).
    g["ph"] = draw(st.integers(0, min(2, g["KH"] - 1)))
    g["pw"] = draw(st.integers(0, min(2, g["KW"] - 1)))
    assume(g["KH"] <= g["H"] + 2 * g["ph"] and g["KW"] <= g["W"] + 2 * g["pw"])
    g["Ho"] = (g["H"] + 2 * g["ph"] - g["KH"]) // g["sh"] + 1
    g["Wo"] = (g["W"] + 2 * g["pw"] - g["KW"]) // g["sw"] + 1
    return g


def _conv_data(g, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((g["N"], g["C"], g["H"], g["W"]))
    w = rng.standard_normal((g["F"], g["C"], g["KH"], g["KW"]))
    return x, w, rng.standard_normal(g["F"]), (g["sh"], g["sw"]), (g["ph"], g["pw"])


def _covers(g, r, q):
    """(Ho, Wo) mask of the output pixels whose window covers input pixel (r, q)."""
    top = np.arange(g["Ho"]) * g["sh"] - g["ph"]
    left = np.arange(g["Wo"]) * g["sw"] - g["pw"]
    rows = (top <= r) & (r < top + g["KH"])
    cols = (left <= q) & (q < left + g["KW"])
    return rows[:, None] & cols[None, :]


@pytest.mark.parametrize(
    "impl", [_param(f"nan:pixel:{q}", q, q) for q in sorted(CONV_FORWARD)]
)
@given(g=_conv_geometry(), data=st.data())
def test_nan_pixel_reaches_exactly_the_windows_over_it(impl, g, data):
    x, w, b, stride, padding = _conv_data(g)
    n, c = data.draw(st.integers(0, g["N"] - 1)), data.draw(st.integers(0, g["C"] - 1))
    r, q = data.draw(st.integers(0, g["H"] - 1)), data.draw(st.integers(0, g["W"] - 1))
    x[n, c, r, q] = np.nan
    out = CONV_FORWARD[impl](x, w, b, stride, padding)
    expected = np.zeros(out.shape, dtype=bool)
    expected[n] = _covers(g, r, q)  # every filter, the windows over the pixel
    _only_nan_where(out, expected, f"NaN pixel {(n, c, r, q)} with {g}")


@pytest.mark.parametrize(
    "impl", [_param(f"nan:filter:{q}", q, q) for q in sorted(CONV_FORWARD)]
)
@given(g=_conv_geometry(), data=st.data())
def test_nan_filter_weight_reaches_its_output_channel(impl, g, data):
    x, w, b, stride, _ = _conv_data(g)
    f = data.draw(st.integers(0, g["F"] - 1))
    pos = tuple(data.draw(st.integers(0, s - 1)) for s in w.shape[1:])
    w[(f,) + pos] = np.nan
    g = dict(g, ph=0, pw=0)  # without padding every weight meets a pixel
    assume(g["KH"] <= g["H"] and g["KW"] <= g["W"])
    out = CONV_FORWARD[impl](x, w, b, stride, 0)
    expected = np.zeros(out.shape, dtype=bool)
    expected[:, f] = True
    _only_nan_where(out, expected, f"NaN weight {(f, *pos)}")


@pytest.mark.parametrize(
    "impl", [_param(f"nan:dout:{q}", q, q) for q in sorted(CONV_BACKWARD)]
)
@given(g=_conv_geometry(), data=st.data())
def test_nan_conv_gradient_reaches_exactly_its_window(impl, g, data):
    forward, backward = CONV_BACKWARD[impl]
    x, w, b, stride, padding = _conv_data(g)
    out, cache = forward(x, w, b, stride, padding)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    pos = tuple(data.draw(st.integers(0, s - 1)) for s in out.shape)
    dout[pos] = np.nan
    dx, dw, db = backward(dout, cache)
    n, f, i, j = pos
    # dx: the pixels of window (i, j) of image n, all channels.
    top, left = i * g["sh"] - g["ph"], j * g["sw"] - g["pw"]
    rows = (np.arange(g["H"]) >= top) & (np.arange(g["H"]) < top + g["KH"])
    cols = (np.arange(g["W"]) >= left) & (np.arange(g["W"]) < left + g["KW"])
    expected = np.zeros(dx.shape, dtype=bool)
    expected[n] = rows[:, None] & cols[None, :]
    _only_nan_where(dx, expected, f"dx for NaN dout{pos}")
    _only_nan_where(db, np.arange(g["F"]) == f, "db")
    assert not np.isnan(np.delete(dw, f, axis=0)).any(), "dw of another filter"
    if g["ph"] == g["pw"] == 0:  # every weight of filter f met a pixel of window (i, j)
        assert np.isnan(dw[f]).all()


# attention --------------------------------------------------------------------------


def _first(fn, **fixed):
    """``fn(Q, K, V, ...)[0]`` with the mask and causal flag as keywords."""
    return lambda Q, K, V, mask, causal, bs: fn(
        Q, K, V, mask=mask, causal=causal, **fixed
    )[0]


def _blocks(fn):
    return lambda Q, K, V, mask, causal, bs: fn(Q, K, V, bs, mask=mask, causal=causal)


ATTENTION = {
    "lalib.attention.attention_forward": _first(attention.attention_forward),
    "lalib.attention.attention_naive": _first(attention.attention_naive),
    "lalib.attention.scaled_dot_product_attention": _first(
        attention.scaled_dot_product_attention
    ),
    "lalib.attention.scaled_dot_product_attention need_weights=False": _first(
        attention.scaled_dot_product_attention, need_weights=False
    ),
    "lalib.attention.attention_blockwise": _blocks(attention.attention_blockwise),
    "lalib.engine.attention.attention_forward": _first(eng_attention.attention_forward),
    "lalib.engine.attention.scaled_dot_product_attention need_weights=False": _first(
        eng_attention.scaled_dot_product_attention, need_weights=False
    ),
    "lalib.engine.attention.attention_blockwise": _blocks(
        eng_attention.attention_blockwise
    ),
}


@st.composite
def _attention_case(draw):
    B, n_q, n_k = (
        draw(st.integers(1, 2)),
        draw(st.integers(1, 5)),
        draw(st.integers(1, 5)),
    )
    d_k, d_v = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    causal = draw(st.booleans())
    mask = None
    if draw(st.booleans()):
        bits = draw(st.lists(st.booleans(), min_size=n_q * n_k, max_size=n_q * n_k))
        mask = np.array(bits).reshape(n_q, n_k)
    where = draw(st.sampled_from(["Q", "K", "V"]))
    shapes = {"Q": (B, n_q, d_k), "K": (B, n_k, d_k), "V": (B, n_k, d_v)}
    pos = tuple(draw(st.integers(0, s - 1)) for s in shapes[where])
    bs = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    return dict(shapes=shapes, causal=causal, mask=mask, where=where, pos=pos, bs=bs)


@pytest.mark.parametrize(
    "impl", [_param(f"nan:attention:{q}", q.split()[0], q) for q in ATTENTION]
)
@given(case=_attention_case())
def test_nan_attention_reaches_exactly_the_rows_that_see_it(impl, case):
    rng = np.random.default_rng(0)
    arrays = {k: rng.standard_normal(s) for k, s in case["shapes"].items()}
    where, pos = case["where"], case["pos"]
    arrays[where][pos] = np.nan
    (_, n_q, _), (_, n_k, d_v) = case["shapes"]["Q"], case["shapes"]["V"]
    allowed = np.ones((n_q, n_k), dtype=bool) if case["mask"] is None else case["mask"]
    if case["causal"]:
        allowed = allowed & (
            np.arange(n_k)[None, :] <= np.arange(n_q)[:, None] + n_k - n_q
        )
    out = ATTENTION[impl](
        **arrays, mask=case["mask"], causal=case["causal"], bs=case["bs"]
    )
    b = pos[0]
    others = np.delete(out, b, axis=0)
    assert not np.isnan(others).any(), "NaN leaked into another batch entry"
    if where == "Q":  # row i, unless it attends to nothing (zeros by convention)
        rows = (np.arange(n_q) == pos[1]) & allowed.any(axis=1)
        expected = rows[:, None] & np.ones(d_v, bool)
        _only_nan_where(out[b], expected, f"NaN in Q{pos}, {case}")
    elif where == "K":  # the rows that may attend to key j
        expected = allowed[:, pos[1]][:, None] & np.ones(d_v, bool)
        _only_nan_where(out[b], expected, f"NaN in K{pos}, {case}")
    else:  # column t of the rows that may attend to key j: a masked key is not read
        expected = allowed[:, pos[1]][:, None] & (np.arange(d_v) == pos[2])
        _only_nan_where(out[b], expected, f"NaN in V{pos}, {case}")


def test_nan_multi_head_attention_poisons_only_its_row():
    kw = CATALOGUE["lalib.attention.multi_head_attention"].make()
    kw.update(mask=None, causal=True)
    kw["x_q"][1, 2, 0] = np.nan  # the last query of example 1 sees every key
    out, _ = attention.multi_head_attention(**kw)
    expected = np.zeros(out.shape, dtype=bool)
    expected[1, 2] = True
    _only_nan_where(out, expected, "multi-head attention")


# decomp, optim, gradcheck ---------------------------------------------------------


def _nan_at(a, pos):
    a = np.array(a, dtype=np.float64)
    a[pos] = np.nan
    return a


def _cases_decomp():
    X = np.random.default_rng(0).standard_normal((6, 3))
    C, mean = decomp.covariance(_nan_at(X, (2, 1)))
    hit = np.zeros((3, 3), dtype=bool)
    hit[1, :] = hit[:, 1] = True
    yield "covariance C", C, hit
    yield "covariance mean", mean, np.arange(3) == 1
    comps, var, _ = decomp.pca(_nan_at(X, (0, 0)), 2)
    yield "pca components", comps, np.ones((2, 3), bool)
    yield "pca variances", var, np.ones(2, bool)
    comps, _, mean = decomp.pca(X, 2)
    Z = decomp.pca_transform(_nan_at(X, (4, 2)), comps, mean)
    yield "pca_transform", Z, (np.arange(6) == 4)[:, None] & np.ones(2, bool)
    Z = decomp.pca_transform(X, comps, mean)
    Xh = decomp.pca_reconstruct(_nan_at(Z, (3, 1)), comps, mean)
    yield "pca_reconstruct", Xh, (np.arange(6) == 3)[:, None] & np.ones(3, bool)
    A = np.random.default_rng(1).standard_normal((6, 3))
    b = np.random.default_rng(2).standard_normal((6, 2))
    for solver in (decomp.lstsq_normal_equations, decomp.lstsq_qr, decomp.lstsq_svd):
        x = solver(A, _nan_at(b, (3, 1)))  # column 1 of b: column 1 of x only
        yield (
            f"{solver.__name__} NaN in b",
            x,
            np.zeros((3, 2), bool) | (np.arange(2) == 1),
        )
        yield (
            f"{solver.__name__} NaN in A",
            solver(_nan_at(A, (0, 0)), b),
            np.ones((3, 2), bool),
        )


def _cases_optim():
    A, b = np.array([[4.0, 1.0], [1.0, 3.0]]), np.array([1.0, 2.0])
    x = _nan_at(np.random.default_rng(0).standard_normal((4, 2)), (2, 0))
    yield "quadratic_loss", optim.quadratic_loss(x, A, b), np.arange(4) == 2
    rows = (np.arange(4) == 2)[:, None] & np.ones(2, bool)
    yield "quadratic_grad", optim.quadratic_grad(x, A, b), rows
    yield (
        "quadratic_minimizer",
        optim.quadratic_minimizer(_nan_at(A, (0, 0)), b),
        (np.ones(2, bool)),
    )
    yield "gd_rate", np.array(optim.gd_rate(_nan_at(A, (0, 0)), 0.1)), np.array(True)
    params, grads = (
        [np.ones((2, 2)), np.ones(3)],
        [np.ones((2, 2)), _nan_at(np.ones(3), 1)],
    )
    new = optim.gd_step(params, grads, 0.1)
    yield "gd_step params[0]", new[0], np.zeros((2, 2), bool)
    yield "gd_step params[1]", new[1], np.arange(3) == 1
    traj = optim.gradient_descent(lambda v: 2.0 * v, _nan_at([1.0, 2.0], 0), 0.1, 3)
    yield "gradient_descent", traj, np.ones((4, 1), bool) & (np.arange(2) == 0)


def _cases_gradcheck():
    a = np.ones((2, 2))
    yield (
        "relative_error",
        np.array(gradcheck.relative_error(_nan_at(a, (0, 0)), a)),
        (np.array(True)),
    )
    x = _nan_at(np.ones(3), 1)
    (g,) = gradcheck.numerical_gradient(lambda v: v * v, (x,))
    # L = sum(f(x) * dout) is NaN at every step, so is every difference of it.
    yield "numerical_gradient", g, np.ones(3, bool)


NAN_TABLES = {
    "decomp": _cases_decomp,
    "optim": _cases_optim,
    "gradcheck": _cases_gradcheck,
}


@pytest.mark.parametrize("module", sorted(NAN_TABLES))
def test_nan_propagates_in_small_kernels(module):
    for what, result, expected in NAN_TABLES[module]():
        _only_nan_where(np.asarray(result), np.asarray(expected), what)


# ------------------------------------------------------- the known-failures list


def test_known_failures_are_confined():
    """Every entry names an existing case, of conv, attention or the engine: a failure
    anywhere else is a real failure, never an expected one."""
    unknown = sorted(set(KNOWN_FAILURES) - set(CASE_SUBJECTS))
    assert not unknown, f"KNOWN_FAILURES names no existing case: {unknown}"
    elsewhere = [
        case_id
        for case_id in KNOWN_FAILURES
        if not _within(CASE_SUBJECTS[case_id], XFAIL_PREFIXES)
    ]
    assert not elsewhere, (
        f"expected failures outside conv/attention/engine: {elsewhere}"
    )
