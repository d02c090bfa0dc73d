"""Pictures for the chapter "Attention": weight heatmaps, token links, the sqrt(d_k)
experiment, the memory of dense vs blockwise attention, and the weights player.

Display code only (matplotlib, ipywidgets); every number drawn is computed by
`lalib.attention` and passed in. Pure plotting functions take an Axes; the widget
builder renders frames with them and hands them to
`lalib.display.players.precomputed_player`.
"""

import numpy as np

from lalib import attention
from lalib.display.figures import annotated_heatmap, new_figure, outline_cells
from lalib.display.players import precomputed_player


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


def plot_token_links(ax, tokens, weights_row, query):
    """The sentence as a row of tokens, lines from the query to the keys it attends to.

    Line width and the shading of each key grow with its weight; keys with zero
    weight (masked) are drawn struck through in grey.

    Parameters
    ----------
    ax : matplotlib Axes
    tokens : sequence of str, length n
    weights_row : ndarray, shape (n,)
        The query's attention weights over the keys.
    query : int
        Position of the query token.
    """
    import matplotlib

    n = len(tokens)
    blues = matplotlib.colormaps["Blues"]
    for j in range(n):
        w = float(weights_row[j])
        if w > 0.005:
            ax.plot(
                [query, j],
                [0.0, 1.0],
                color="tab:blue",
                lw=0.5 + 7 * w,
                alpha=0.25 + 0.75 * w,
                solid_capstyle="round",
                zorder=1,
            )
    for j, tok in enumerate(tokens):
        w = float(weights_row[j])
        masked = w == 0
        ax.text(
            j,
            1.0,
            tok,
            ha="center",
            va="center",
            fontsize=9,
            zorder=2,
            color="0.6" if masked else ("white" if w > 0.6 else "black"),
            bbox={
                "boxstyle": "round,pad=0.3",
                "fc": "0.95" if masked else blues(0.1 + 0.9 * w),
                "ec": "0.7",
            },
        )
        ax.text(j, 1.32, f"{w:.2f}", ha="center", va="center", fontsize=8, color="0.3")
    ax.text(
        query,
        0.0,
        tokens[query],
        ha="center",
        va="center",
        fontsize=9,
        zorder=2,
        bbox={"boxstyle": "round,pad=0.3", "fc": "tab:orange", "ec": "tab:orange"},
    )
    ax.text(-0.6, 0.0, "query", ha="right", va="center", fontsize=8, color="0.3")
    ax.text(-0.6, 1.0, "keys", ha="right", va="center", fontsize=8, color="0.3")
    ax.set_xlim(-1.6, n - 0.4)
    ax.set_ylim(-0.35, 1.5)
    ax.axis("off")


def attention_frame(tokens, weights, query, title=None, figsize=(7.2, 2.9)):
    """One frame of the player: the heatmap with row `query` outlined, and its links.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (ax_h, ax_l) = new_figure(figsize=figsize, ncols=2, width_ratios=[1, 1.35])
    plot_weights(ax_h, weights, tokens, tokens, highlight=query)
    plot_token_links(ax_l, tokens, weights[query], query)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(
        left=0.07, right=0.99, bottom=0.14, top=0.88, wspace=0.05
    )  # fixed: cheaper than tight_layout
    return fig


def attention_weights_player(
    Q, K, tokens, scales, masks, interval=900, dpi=100, initial_scale=None
):
    """Play / slider over query positions, with controls for the scale and the mask.

    Every frame is rendered now (``len(tokens) * len(scales) * len(masks)`` PNGs), so
    the widget responds in the static book without a kernel.

    Parameters
    ----------
    Q, K : ndarray, shapes (n, d_k)
        Queries and keys of the sentence.
    tokens : sequence of str, length n
    scales : dict of str -> float
        Slider label -> the factor multiplying ``Q @ K.T`` (``1/sqrt(d_k)`` is
        standard).
    masks : dict of str -> ndarray of bool or None
        Slider label -> mask, shape (n, n), or None for no mask.
    interval : int
        Milliseconds per Play step.
    dpi : int
        Resolution of the frames: 100 draws a 720-pixel-wide frame whose text is
        legible at the width of a book page.
    initial_scale : str, optional
        The scale label the page opens on (default: the first).

    Returns
    -------
    ipywidgets.VBox
        From `precomputed_player`; ``.weights`` maps (scale label, mask label) to the
        (n, n) weights drawn.
    """
    table = {}
    for s_lab, s in scales.items():
        for m_lab, m in masks.items():
            _, w = attention.scaled_dot_product_attention(
                Q, K, K, mask=m, scale=s
            )  # V unused
            table[s_lab, m_lab] = w  # (n, n)

    def render(query, scale, mask):
        w = table[scale, mask]
        top = np.argsort(w[query])[::-1][:2]
        said = ", ".join(
            f"{tokens[j]} {w[query, j]:.2f}" for j in top if w[query, j] > 0
        )
        return attention_frame(
            tokens,
            w,
            query,
            title=f'"{tokens[query]}" (position {query}) attends to: {said}',
        )

    player = precomputed_player(
        render,
        {
            "query": {f"{i}: {t}": i for i, t in enumerate(tokens)},
            "scale": {lab: lab for lab in scales},
            "mask": {lab: lab for lab in masks},
        },
        play="query",
        interval=interval,
        dpi=dpi,
        initial=None if initial_scale is None else {"scale": initial_scale},
    )
    player.weights = table
    return player


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
