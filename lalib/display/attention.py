"""Pictures for the chapter "Attention": weight heatmaps, the sqrt(d_k) experiment,
the memory of dense vs blockwise attention, and two explorables.

Display code only: every number a matplotlib function draws is computed by
`lalib.attention` and passed in; the pure plotting functions take an Axes. The
explorables (`AttentionPlaneExplorer`, `SentenceAttentionExplorer`) recompute in the
reader's browser with ``lamath.js`` (drawn by ``js/attention.js`` and
``js/attention_sentence.js``); in Python the numbers they show come from
`lalib.attention.attention_forward`.
"""

import math

import numpy as np
import traitlets

from lalib import attention
from lalib.display.explorable import JS_DIR, Array, Explorable
from lalib.display.figures import annotated_heatmap, outline_cells


def format_matrix(M, row_labels, col_labels, decimals=2):
    """A matrix as a labelled text table, for printing intermediate results.

    Parameters
    ----------
    M : ndarray, shape (R, C)
    row_labels : sequence of str, length R
    col_labels : sequence of str, length C
    decimals : int

    Returns
    -------
    str

    Examples
    --------
    >>> print(format_matrix(np.eye(2), ["a", "b"], ["x", "y"], decimals=1))
        x   y
    a 1.0 0.0
    b 0.0 1.0
    """
    M = np.asarray(M)
    if M.shape != (len(row_labels), len(col_labels)):
        raise ValueError(
            f"M has shape {M.shape}, labels say ({len(row_labels)}, {len(col_labels)})"
        )
    cells = [[f"{v:.{decimals}f}" for v in row] for row in M]
    width = (
        max([len(c) for c in col_labels] + [len(v) for row in cells for v in row]) + 1
    )
    lead = max(len(r) for r in row_labels)
    head = " " * lead + "".join(f"{c:>{width}}" for c in col_labels)
    rows = [
        f"{r:<{lead}}" + "".join(f"{v:>{width}}" for v in row)
        for r, row in zip(row_labels, cells, strict=True)
    ]
    return "\n".join([head] + rows)


def _weight_label(v):
    """A weight in its cell: ``.37`` for 0 < v < 1, else ``0`` or ``1``."""
    return f"{v:.2f}"[1:] if 0 < v < 1 else f"{v:.0f}"


def plot_weights(
    ax,
    weights,
    row_labels,
    col_labels,
    highlight=None,
    annotate=True,
    title=None,
    cmap="Blues",
):
    """Heatmap of an attention weight matrix, rows = queries, columns = keys.

    Parameters
    ----------
    ax : matplotlib Axes
    weights : ndarray, shape (n_q, n_k)
    row_labels, col_labels : sequence of str
    highlight : int, optional
        A query row to outline.
    annotate : bool
        Write each weight in its cell.
    title : str, optional
    """
    weights = np.asarray(weights)
    n_q, n_k = weights.shape
    annotated_heatmap(
        ax, weights, cmap, 0, 1, fmt=_weight_label if annotate else None, fontsize=7.5
    )
    ax.set_xticks(range(n_k), labels=col_labels, rotation=0, fontsize=8)
    ax.set_yticks(range(n_q), labels=row_labels, fontsize=8)
    ax.tick_params(length=0)
    ax.set_xlabel("key", fontsize=8)
    ax.set_ylabel("query", fontsize=8)
    if highlight is not None:
        outline_cells(ax, highlight, 0, 1, n_k, lw=2.2)
    if title:
        ax.set_title(title, fontsize=9)


def plot_scaling_experiment(
    ax_var, ax_ent, d_ks, var_raw, var_scaled, ent_raw, ent_scaled, max_entropy
):
    """Left: variance of q.k against d_k; right: entropy of the softmax weights.

    Parameters
    ----------
    ax_var, ax_ent : matplotlib Axes
    d_ks : sequence of int
    var_raw, var_scaled : sequence of float
        Sample variance of ``q.k`` and of ``q.k / sqrt(d_k)``.
    ent_raw, ent_scaled : sequence of float
        Mean entropy (nats) of the softmax over the keys, unscaled and scaled.
    max_entropy : float
        ``log(n_k)``, the entropy of uniform weights.
    """
    ax_var.loglog(d_ks, var_raw, "o-", label=r"$q\cdot k$")
    ax_var.loglog(d_ks, var_scaled, "s-", label=r"$q\cdot k/\sqrt{d_k}$")
    ax_var.loglog(d_ks, d_ks, ":", color="0.5", label=r"$d_k$")
    ax_var.set_xlabel(r"$d_k$")
    ax_var.set_ylabel("variance of the score")
    ax_var.legend(fontsize=8)
    ax_ent.semilogx(d_ks, ent_raw, "o-", label="unscaled")
    ax_ent.semilogx(d_ks, ent_scaled, "s-", label=r"scaled by $1/\sqrt{d_k}$")
    ax_ent.axhline(max_entropy, ls=":", color="0.5", label=r"uniform, $\log n_k$")
    ax_ent.set_xlabel(r"$d_k$")
    ax_ent.set_ylabel("entropy of the weights (nats)")
    ax_ent.set_ylim(bottom=0)
    ax_ent.legend(fontsize=8)


def plot_memory(ax, ns, dense_mib, blockwise_mib, label_dtype="float32"):
    """Peak extra memory of dense and blockwise attention against sequence length n.

    Both axes are logarithmic in base 2, with plainly written tick labels and no
    minor ticks: one label per measured n (so labels cannot collide and doubling n
    is one equal step), and powers of 2 MiB on the y axis, so a quantity that grows
    fourfold when n doubles climbs two steps per step.

    Parameters
    ----------
    ax : matplotlib Axes
    ns : sequence of int
        The measured sequence lengths.
    dense_mib, blockwise_mib : sequence of float
        Peak memory in MiB at each n.
    label_dtype : str
        The dtype named in the legend.
    """
    ax.plot(ns, dense_mib, "o-", label=f"dense ({label_dtype})")
    ax.plot(ns, blockwise_mib, "s-", label=f"blockwise ({label_dtype})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xticks(list(ns), labels=[str(n) for n in ns])
    values = np.concatenate([np.ravel(dense_mib), np.ravel(blockwise_mib)])
    low, high = np.floor(np.log2(values.min())), np.ceil(np.log2(values.max()))
    powers = 2.0 ** np.arange(low, high + 1)  # MiB
    ax.set_yticks(powers, labels=[f"{p:g}" for p in powers])
    ax.minorticks_off()
    ax.set_xlabel("sequence length n")
    ax.set_ylabel("peak extra memory (MiB)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)


def plot_training(ax, losses, accuracies=None):
    """The training loss per step (log scale), optionally accuracy on a second axis."""
    ax.semilogy(np.arange(len(losses)), losses, color="tab:blue")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy loss", color="tab:blue")
    if accuracies is not None:
        ax2 = ax.twinx()
        ax2.plot(np.arange(len(accuracies)), accuracies, color="tab:green")
        ax2.set_ylabel("accuracy", color="tab:green")
        ax2.set_ylim(0, 1.05)


# --------------------------------------------------------------------- explorables


def _row_entropy(P):
    """Entropy in nats of each row of P (0 log 0 = 0): (n_q, n_k) -> (n_q,)."""
    return -np.sum(P * np.log(np.where(P > 0, P, 1.0)), axis=-1)


def _attends(P, q_labels, k_labels):
    """Phrases "q attends most to k (0.71)" for each row of the weights P."""
    parts = []
    for i, row in enumerate(P):
        if not row.any():
            parts.append(f"{q_labels[i]} attends to nothing")
        else:
            j = int(np.argmax(row))
            parts.append(f"{q_labels[i]} attends most to {k_labels[j]} ({row[j]:.2f})")
    return parts


class _AttentionExplorer(Explorable):
    """What both explorables share: a scale, a causal switch, lalib's results."""

    scale = traitlets.Float(1.0).tag(sync=True)
    causal = traitlets.Bool(False).tag(sync=True)

    @traitlets.validate("scale")
    def _valid_scale(self, proposal):
        value = proposal["value"]
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"scale must be a finite number >= 0, got {value}")
        return value

    def _forward(self, V):
        out, cache = attention.attention_forward(
            self.Q, self.K, V, scale=self.scale, causal=self.causal
        )
        return out, cache[3]  # (n_q, d_v), the weights (n_q, n_k)

    @property
    def weights(self):
        """The attention weights now shown, from `lalib.attention.attention_forward`.

        Returns
        -------
        ndarray, shape (n_q, n_k)
        """
        return self._forward(np.zeros((self.K.shape[0], 1)))[1]


class AttentionPlaneExplorer(_AttentionExplorer):
    """Attention with d_k = 2: queries and keys are arrows the reader drags.

    The figure draws every query and key as an arrow from the origin of the plane;
    dragging an arrow's tip (or focusing it and pressing the arrow keys) moves it, and
    the weights ``softmax(scale * Q K^T)`` (a heat map with the numbers in its cells)
    and the outputs ``weights @ V`` are recomputed in the browser. A slider sets the
    scale as a multiple of ``1/sqrt(d_k)`` (its inverse is the softmax temperature); a
    toggle button switches the causal mask on and off.

    Parameters
    ----------
    Q : array_like, shape (n_q, 2)
        Queries, one per row.
    K : array_like, shape (n_k, 2)
        Keys, one per row.
    V : array_like, shape (n_k, d_v)
        Values, one per key.
    scale : float, optional
        Multiplies the scores, ``>= 0``; ``1/sqrt(2)`` by default.
    causal : bool
        Apply `lalib.attention.causal_mask` (query i sees keys j <= i + n_k - n_q).

    Attributes
    ----------
    Q, K, V, scale, causal
        Synced with the browser: a drag changes ``Q`` or ``K`` here, and assigning one
        of them redraws the figure. To change n_k, assign K and V together inside
        ``with explorer.hold_trait_notifications():``. The properties ``weights``
        (n_q, n_k) and ``out`` (n_q, d_v) are the numbers shown, computed by
        `lalib.attention.attention_forward`.

    Raises
    ------
    ValueError
        If an array has the wrong shape (the message names the shape it got and the
        one expected), K and V disagree on n_k, or `scale` is negative or not finite.

    Examples
    --------
    >>> ex = AttentionPlaneExplorer([[1.0, 0.0]], [[2.0, 0.0], [0.0, 2.0]], np.eye(2))
    >>> ex.weights.round(3)
    array([[0.804, 0.196]])
    """

    Q = Array((None, 2))
    K = Array((None, 2))
    V = Array((None, None))
    _module = "attention.js"

    def __init__(self, Q, K, V, scale=None, causal=False, **kwargs):
        if scale is None:
            scale = 1 / math.sqrt(2)
        super().__init__(Q=Q, K=K, V=V, scale=scale, causal=causal, **kwargs)

    @traitlets.validate("K", "V")
    def _same_n_k(self, proposal):
        value = proposal["value"]
        shapes = {"K": self.K, "V": self.V}
        shapes[proposal["trait"].name] = value
        K, V = shapes["K"], shapes["V"]
        if K is not None and V is not None and K.shape[0] != V.shape[0]:
            raise ValueError(
                f"K and V need one row per key: K has shape {K.shape}, V {V.shape}"
            )
        return value

    @property
    def out(self):
        """The outputs ``weights @ V`` now shown, shape (n_q, d_v)."""
        return self._forward(self.V)[0]

    def describe(self):
        """A sentence: sizes, scale, mask, and which key each query attends to most."""
        n_q, n_k = self.Q.shape[0], self.K.shape[0]
        queries = "1 query" if n_q == 1 else f"{n_q} queries"
        keys = "1 key" if n_k == 1 else f"{n_k} keys"
        mask = "causal mask" if self.causal else "no mask"
        said = "; ".join(
            _attends(
                self.weights,
                [f"q{i + 1}" for i in range(n_q)],
                [f"k{j + 1}" for j in range(n_k)],
            )
        )
        return (
            f"Attention in the plane: {queries}, {keys}, d_v = "
            f"{self.V.shape[1]}, scale {self.scale:.3f}, {mask}. {said}."
        )


class SentenceAttentionExplorer(_AttentionExplorer):
    """The weights of a sentence's attention, under a choice of scales and masks.

    A heat map of the weights, queries in rows and keys in columns, labelled with the
    tokens and with each weight written in its cell, plus the entropy of each row (in
    nats; ``log n_k`` for uniform weights). A dropdown picks the scale among
    `scales`, another the mask (none or causal), a third the query whose row is
    outlined and described. The browser recomputes everything.

    Parameters
    ----------
    Q, K : array_like, shapes (n, d_k)
        Queries and keys of the sentence.
    tokens : sequence of str, length n
    scales : sequence of (str, float)
        The scale choices as (label, factor multiplying ``Q @ K.T``) pairs.
    scale : float, optional
        The factor shown first (default: the first of `scales`).
    causal : bool
    query : int
        The query row outlined and described.

    Attributes
    ----------
    Q, K, tokens, scales, scale, causal, query
        Synced with the browser. The properties ``weights`` (n, n) and ``entropy``
        (n,) are the numbers shown, computed with
        `lalib.attention.attention_forward`.

    Raises
    ------
    ValueError
        If Q and K differ in shape, `tokens` does not have one token per row,
        `scales` is empty or a factor is negative, or `query` is out of range.
    """

    Q = Array((None, None))
    K = Array((None, None))
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    scales = traitlets.List().tag(sync=True)
    query = traitlets.Int(0).tag(sync=True)
    _module = "attention_sentence.js"

    def __init__(
        self, Q, K, tokens, scales, scale=None, causal=False, query=0, **kwargs
    ):
        scales = [[str(label), float(value)] for label, value in scales]
        if not scales:
            raise ValueError("scales must name at least one (label, factor) pair")
        for label, value in scales:
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"scale {label!r} must be >= 0, got {value}")
        if scale is None:
            scale = scales[0][1]
        super().__init__(
            Q=Q,
            K=K,
            tokens=list(tokens),
            scales=scales,
            scale=scale,
            causal=causal,
            query=query,
            **kwargs,
        )

    @traitlets.validate("Q", "K", "tokens", "query")
    def _consistent(self, proposal):
        value = proposal["value"]
        name = proposal["trait"].name
        now = {"Q": self.Q, "K": self.K, "tokens": self.tokens, "query": self.query}
        now[name] = value
        Q, K, tokens, query = now["Q"], now["K"], now["tokens"], now["query"]
        if Q is not None and K is not None and Q.shape != K.shape:
            raise ValueError(
                f"Q and K must have the same shape (n, d_k), got {Q.shape} "
                f"and {K.shape}"
            )
        n = Q.shape[0] if Q is not None else None
        if n is not None and tokens and len(tokens) != n:
            raise ValueError(
                f"tokens: {n} rows of Q need {n} tokens, got {len(tokens)}"
            )
        if n is not None and not 0 <= query < n:
            raise ValueError(f"query must be in 0..{n - 1}, got {query}")
        return value

    @property
    def entropy(self):
        """The entropy of each row of the weights shown, in nats, shape (n,)."""
        return _row_entropy(self.weights)

    def describe(self):
        """A sentence: the scale, the mask, and where the outlined query looks."""
        label = next(
            (lab for lab, v in self.scales if math.isclose(v, self.scale)),
            f"{self.scale:.3f}",
        )
        mask = "causal mask" if self.causal else "no mask"
        P = self.weights
        said = _attends(
            P[[self.query]],
            [f'"{self.tokens[self.query]}"'],
            [f'"{t}"' for t in self.tokens],
        )[0]
        return (
            f"Attention weights of {' '.join(self.tokens)!r}, scale {label}, {mask}: "
            f"{said}; mean row entropy {self.entropy.mean():.2f} nats."
        )


_CSS = (JS_DIR / "attention.css").read_text(encoding="utf-8")
for _cls in (AttentionPlaneExplorer, SentenceAttentionExplorer):
    _cls._css = _cls._css + _CSS
