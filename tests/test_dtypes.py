"""No public kernel of lalib silently turns float32 input into float64.

NumPy 2 keeps float32 only when every operand is float32 or a Python scalar: one
``np.sqrt(d)`` (a float64 scalar), one ``np.zeros(n)`` accumulator or one float64
constant array in a kernel, and the whole result is float64, twice the memory and about
half the speed. Each case below calls one public function with float32 arrays and checks
every floating array it returns, caches included (a float64 array in a cache would
promote the backward pass).

`test_every_public_function_is_covered` keeps the list honest: a new public function in
one of `MODULES` fails it until it gets a case here, or an entry in `NOT_KERNELS`
saying why it has no float input to keep.
"""

import importlib
import inspect

import numpy as np
import pytest

F32 = np.float32

# The math modules and the engine. lalib.display and lalib.exercises draw pictures and
# check answers; lalib.timing measures time: none of them has float input to keep.
MODULES = (
    "linear",
    "activations",
    "losses",
    "conv",
    "attention",
    "mlp",
    "optim",
    "decomp",
    "data",
    "gradcheck",
    "engine.conv",
    "engine.attention",
    "engine.winograd",
    "engine.fft",
    "fourier",
    "backprop",
    "positions",
    "transformer",
    "lowrank",
)

NOT_KERNELS = {
    "fourier.dft_matrix": "builds the complex DFT matrix from an integer",
    "conv.output_size": "integer arithmetic on sizes",
    "conv.receptive_field": "integer arithmetic on sizes",
    "attention.causal_mask": "builds a boolean mask from two integers",
    "optim.gd_rate": "returns a Python float (a contraction factor), no array",
    "mlp.predict": (
        "returns integer class indices (its float work is mlp_forward, covered)"
    ),
    "mlp.accuracy": "returns a Python float (its float work is mlp_forward, covered)",
    "gradcheck.numerical_gradient": (
        "finite differences are float64 on purpose (a test tool)"
    ),
    "gradcheck.relative_error": "a test tool returning a Python float",
    "engine.conv.choose_algorithm": "returns an algorithm's name and a sentence",
    "engine.conv.error_table": "returns Python floats (errors of float32 runs)",
    "engine.winograd.transform_matrices": "exact constant matrices, float64",
    "gradcheck.check_gradients": (
        "finite differences are float64 on purpose (a test tool)"
    ),
    "backprop.chain_cost": "integer arithmetic on sizes (a Python int)",
    "backprop.matrix_chain_order": "integer arithmetic on sizes (a Python int)",
    "positions.rope_frequencies": "float64 frequencies built from two numbers",
    "positions.rope_matrix": "a float64 rotation built from three numbers",
}


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(F32)


def floating_arrays(obj):
    """Every NumPy floating array or scalar inside a (nested) result."""
    if isinstance(obj, (np.ndarray, np.generic)):
        if np.issubdtype(obj.dtype, np.floating):
            yield obj
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            yield from floating_arrays(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from floating_arrays(item)


# ---------------------------------------------------------------------------- the cases


def _linear(rng):
    from lalib import linear

    x, W, b = f32(rng, 4, 3), f32(rng, 3, 2), f32(rng, 2)
    out, cache = linear.linear_forward(x, W, b)
    return {
        "linear.linear_forward": (out, cache),
        "linear.linear_backward": linear.linear_backward(f32(rng, 4, 2), cache),
        "linear.linear": linear.linear(x, W, b),
    }


def _linear_layer(rng):
    from lalib import linear

    layer = linear.LinearLayer(3, 2, rng=rng, dtype=F32)
    x = f32(rng, 4, 3)
    return {"linear.LinearLayer": (layer.forward(x), layer.backward(f32(rng, 4, 2), x))}


def _activations(rng):
    from lalib import activations as act

    x = f32(rng, 4, 5)
    out, cache = act.relu_forward(x)
    p = act.softmax(x)
    return {
        "activations.relu_forward": (out, cache),
        "activations.relu_backward": act.relu_backward(f32(rng, 4, 5), cache),
        "activations.relu": act.relu(x),
        "activations.softmax": (
            p,
            act.softmax(np.array([1e4, 0.0, -np.inf], dtype=F32)),
        ),
        "activations.softmax_backward": act.softmax_backward(f32(rng, 4, 5), p),
    }


def _losses(rng):
    from lalib import losses

    return {
        "losses.squared_error": losses.squared_error(f32(rng, 4, 3), f32(rng, 4, 3)),
        "losses.softmax_cross_entropy": losses.softmax_cross_entropy(
            f32(rng, 4, 3), np.array([0, 2, 1, 0])
        ),
    }


def _conv(rng):
    from lalib import conv

    x, w, b = f32(rng, 2, 3, 6, 5), f32(rng, 4, 3, 3, 2), f32(rng, 4)
    out, cache = conv.conv2d_forward(x, w, b, stride=(2, 1), padding=1)
    cols = conv.im2col(x, (3, 2), stride=(2, 1), padding=1)
    return {
        "conv.conv2d_naive": conv.conv2d_naive(x, w, b, stride=(2, 1), padding=1),
        "conv.toeplitz_matrix": conv.toeplitz_matrix(
            w, (3, 6, 5), stride=(2, 1), padding=1
        ),
        "conv.im2col": cols,
        "conv.col2im": conv.col2im(cols, x.shape, (3, 2), stride=(2, 1), padding=1),
        "conv.conv2d_forward": (out, cache),
        "conv.conv2d_backward": conv.conv2d_backward(f32(rng, *out.shape), cache),
        "conv.conv2d": conv.conv2d(x, w, b, stride=(2, 1), padding=1),
        **_conv_transpose(rng, conv),
    }


def _conv_transpose(rng, conv):
    x, w, b = f32(rng, 2, 3, 4, 5), f32(rng, 3, 2, 3, 2), f32(rng, 2)
    out, cache = conv.conv_transpose2d_forward(x, w, b, (2, 1), 1, (1, 0))
    return {
        "conv.conv_transpose2d_forward": (out, cache),
        "conv.conv_transpose2d_backward": conv.conv_transpose2d_backward(
            f32(rng, *out.shape), cache
        ),
        "conv.conv_transpose2d": conv.conv_transpose2d(x, w, b, (2, 1), 1, (1, 0)),
    }


def _attention(rng):
    from lalib import attention as att

    Q, K, V = f32(rng, 2, 3, 5, 4), f32(rng, 2, 3, 6, 4), f32(rng, 2, 3, 6, 2)
    mask = rng.random((5, 6)) < 0.7
    # A float64 NumPy scalar as the scale, as `1 / np.sqrt(d_k)` gives: must not
    # promote.
    scale = 1 / np.sqrt(np.float64(4))
    out, cache = att.attention_forward(Q, K, V, mask=mask, scale=scale)
    x_q, x_kv = f32(rng, 2, 5, 6), f32(rng, 2, 7, 3)
    W_q, W_k, W_v, W_o = f32(rng, 6, 8), f32(rng, 3, 8), f32(rng, 3, 4), f32(rng, 4, 6)
    mha_out, mha_cache = att.multi_head_attention_forward(
        x_q, x_kv, W_q, W_k, W_v, W_o, 2, causal=True
    )
    return {
        "attention.attention_forward": (out, cache),
        "attention.attention_backward": att.attention_backward(
            f32(rng, *out.shape), cache
        ),
        "attention.scaled_dot_product_attention": (
            att.scaled_dot_product_attention(Q, K, V),
            att.scaled_dot_product_attention(Q, K, V, scale=scale, causal=True),
            att.scaled_dot_product_attention(Q, K, V, scale=scale, need_weights=False),
        ),
        "attention.attention_naive": att.attention_naive(
            Q, K, V, mask=mask, scale=scale
        ),
        "attention.attention_blockwise": (
            att.attention_blockwise(Q, K, V, block_size=4),
            att.attention_blockwise(Q, K, V, block_size=4, mask=mask, scale=scale),
            att.attention_blockwise(Q, K, V, block_size=2, causal=True),
        ),
        "attention.split_heads": att.split_heads(x_q, 2),
        "attention.merge_heads": att.merge_heads(att.split_heads(x_q, 2)),
        "attention.multi_head_attention_forward": (mha_out, mha_cache),
        "attention.multi_head_attention_backward": att.multi_head_attention_backward(
            f32(rng, *mha_out.shape), mha_cache
        ),
        "attention.multi_head_attention": att.multi_head_attention(
            x_q, x_kv, W_q, W_k, W_v, W_o, 2
        ),
    }


def _engine_conv(rng):
    from lalib.engine import conv

    x, w, b = f32(rng, 2, 3, 6, 5), f32(rng, 4, 3, 3, 2), np.zeros(4)  # float64 bias
    out, cache = conv.conv2d_forward(x, w, b, stride=(2, 1), padding=1)
    return {
        "engine.conv.column_blocks": [
            cols.copy() for *_, cols in conv.column_blocks(x, (3, 2), padding=1)
        ],
        "engine.conv.conv2d_forward": (out, cache),
        "engine.conv.conv2d_backward": conv.conv2d_backward(
            f32(rng, *out.shape), cache
        ),
        "engine.conv.conv2d": conv.conv2d(x, w, b, stride=(2, 1), padding=1),
    }


def _engine_algorithms(rng):
    from lalib.engine import conv, fft, winograd

    x, w, b = f32(rng, 2, 3, 6, 5), f32(rng, 4, 3, 3, 3), np.zeros(4)  # float64 bias
    results = {}
    for algorithm in ("winograd", "fft"):
        out, cache = conv.conv2d_forward(x, w, b, 1, 1, algorithm=algorithm)
        grads = conv.conv2d_backward(f32(rng, *out.shape), cache)
        results[f"engine.conv.conv2d_forward {algorithm}"] = (out, cache, grads)
    for name, module in (("winograd", winograd), ("fft", fft)):
        out, cache = module.conv2d_forward(x, w, b, 1, 1)
        results[f"engine.{name}.conv2d_forward"] = (out, cache)
        results[f"engine.{name}.conv2d_backward"] = module.conv2d_backward(
            f32(rng, *out.shape), cache
        )
    return results


def _engine_attention(rng):
    from lalib.engine import attention as att

    Q, K, V = f32(rng, 2, 3, 5, 4), f32(rng, 2, 3, 6, 4), f32(rng, 2, 3, 6, 2)
    mask = rng.random((5, 6)) < 0.7
    scale = 1 / np.sqrt(np.float64(4))  # a float64 NumPy scalar must not promote
    return {
        "engine.attention.softmax_rows_inplace": att.softmax_rows_inplace(
            f32(rng, 3, 7)
        ),
        "engine.attention.attention_forward": att.attention_forward(
            Q, K, V, mask=mask, scale=scale
        ),
        "engine.attention.scaled_dot_product_attention": (
            att.scaled_dot_product_attention(Q, K, V, scale=scale, causal=True),
            att.scaled_dot_product_attention(Q, K, V, scale=scale, need_weights=False),
        ),
        "engine.attention.attention_blockwise": att.attention_blockwise(
            Q, K, V, block_size=2, mask=mask, scale=scale
        ),
    }


def _mlp(rng):
    from lalib import mlp

    params = mlp.init_params((6, 5, 3), rng, dtype=F32)
    x, labels = f32(rng, 8, 6), rng.integers(0, 3, size=8)
    scores, caches = mlp.mlp_forward(params, x)
    trained = [p.copy() for p in params]
    mlp.train(trained, x, labels, epochs=2, batch_size=4, lr=0.1, rng=rng)
    return {
        "mlp.init_params": params,
        "mlp.mlp_forward": (scores, caches),
        "mlp.mlp_backward": mlp.mlp_backward(f32(rng, *scores.shape), caches),
        "mlp.mlp_loss": mlp.mlp_loss(params, x, labels),
        # train updates the parameters in place: they must still be float32 afterwards
        # (its history of losses and accuracies is a record of Python floats, not
        # checked).
        "mlp.train": trained,
    }


def _optim(rng):
    from lalib import optim

    A = np.array([[2.0, 0.5], [0.5, 1.0]], dtype=F32)
    b = np.array([1.0, -1.0], dtype=F32)
    xs = f32(rng, 5, 2)
    return {
        "optim.quadratic_loss": optim.quadratic_loss(xs, A, b),
        "optim.quadratic_grad": optim.quadratic_grad(xs, A, b),
        "optim.quadratic_minimizer": optim.quadratic_minimizer(A, b),
        "optim.gd_step": (
            optim.gd_step(xs[0], xs[1], 0.1),
            optim.gd_step([xs[0], xs[1]], [xs[2], xs[3]], 0.1),
        ),
        "optim.gradient_descent": (
            optim.gradient_descent(
                lambda x: optim.quadratic_grad(x, A, b), xs[0], 0.1, 5
            ),
            optim.gradient_descent(
                lambda x: optim.quadratic_grad(x, A, b), xs[0], 0.1, 5, momentum=0.5
            ),
        ),
    }


def _decomp(rng):
    from lalib import decomp

    X, A = f32(rng, 10, 4), f32(rng, 8, 3)
    components, variance, mean = decomp.pca(X, 2)
    Z = decomp.pca_transform(X, components, mean)
    return {
        "decomp.covariance": decomp.covariance(X),
        "decomp.pca": (components, variance, mean),
        "decomp.pca_transform": Z,
        "decomp.pca_reconstruct": decomp.pca_reconstruct(Z, components, mean),
        "decomp.lstsq_normal_equations": decomp.lstsq_normal_equations(A, f32(rng, 8)),
        "decomp.lstsq_qr": decomp.lstsq_qr(A, f32(rng, 8, 2)),
        "decomp.lstsq_svd": decomp.lstsq_svd(A, f32(rng, 8)),
    }


def _fourier(rng):
    from lalib import fourier

    c, x = f32(rng, 3), f32(rng, 8)
    w, img = f32(rng, 2, 3), f32(rng, 5, 6)
    # complex results: their real and imaginary parts are float32 or float64
    ev = fourier.circulant_eigenvalues(c, 8)
    ev2 = fourier.circulant2d_eigenvalues(w, (5, 6))
    return {
        "fourier.circulant": fourier.circulant(c, 8),
        "fourier.circular_convolve": fourier.circular_convolve(c, x),
        "fourier.circulant_eigenvalues": (ev.real, ev.imag),
        "fourier.circulant2d": fourier.circulant2d(w, (5, 6)),
        "fourier.circular_conv2d": fourier.circular_conv2d(img, w),
        "fourier.circulant2d_eigenvalues": (ev2.real, ev2.imag),
        "fourier.embed_toeplitz": fourier.embed_toeplitz(w, (5, 6), padding=1),
    }


def _data(rng):
    from lalib import data

    X, y = data.load_digits(dtype=F32)
    return {
        "data.load_digits": X,
        "data.train_test_split": data.train_test_split(X[:20], y[:20], rng=rng),
        "data.sample_image": data.sample_image(dtype=F32),
    }


def _backprop(rng):
    from lalib import backprop as bp

    x, W, p = f32(rng, 3, 4), f32(rng, 4, 2), np.array([0.25, 0.75], dtype=F32)
    jacobians = [f32(rng, 3, 4), f32(rng, 2, 3)]
    values = {k: f32(rng, 2) for k in "xyzw"}  # the constant 2.0 must not promote
    out, cache = bp.graph_forward(bp.CIRCUIT, values)
    return {
        "backprop.linear_jacobian": bp.linear_jacobian(x, W),
        "backprop.relu_jacobian": bp.relu_jacobian(x),
        "backprop.softmax_jacobian": bp.softmax_jacobian(p),
        "backprop.vjp_chain": bp.vjp_chain(jacobians, f32(rng, 2)),
        "backprop.jvp_chain": bp.jvp_chain(jacobians, f32(rng, 4)),
        "backprop.chain_product": bp.chain_product(jacobians[::-1], "right"),
        "backprop.graph_forward": (out, cache),
        "backprop.graph_backward": bp.graph_backward(np.ones(2), cache),
    }


def _positions(rng):
    from lalib import positions as pos

    x = f32(rng, 2, 5, 4)
    where = np.array([0.0, 1.0, 3.0, 4.0, 9.0])  # float64 positions must not promote
    out, cache = pos.rope_forward(x, where)
    W_q, W_k, W_v, W_o = f32(rng, 4, 8), f32(rng, 4, 8), f32(rng, 4, 6), f32(rng, 6, 3)
    att_out, att_cache = pos.rope_attention_forward(
        x, W_q, W_k, W_v, W_o, 2, positions=where, causal=True
    )
    return {
        "positions.sinusoidal_encoding": pos.sinusoidal_encoding(6, 4, dtype=F32),
        "positions.rope_forward": (out, cache),
        "positions.rope_backward": pos.rope_backward(f32(rng, *out.shape), cache),
        "positions.rope": pos.rope(x),
        "positions.rope_attention_forward": (att_out, att_cache),
        "positions.rope_attention_backward": pos.rope_attention_backward(
            f32(rng, *att_out.shape), att_cache
        ),
        "positions.rope_attention": pos.rope_attention(x, W_q, W_k, W_v, W_o, 2),
    }


def _transformer(rng):
    from lalib import transformer as tr

    x, gamma, beta = f32(rng, 2, 3, 4), f32(rng, 4), f32(rng, 4)
    ln_out, ln_cache = tr.layer_norm_forward(x, gamma, beta)
    W1, b1, W2 = f32(rng, 4, 6), np.zeros(6), f32(rng, 6, 4)  # a float64 bias
    ffn_out, ffn_cache = tr.feed_forward_forward(x, W1, b1, W2, f32(rng, 4))
    params = tr.init_block_params(4, 2, 6, rng, dtype=F32)
    out, cache = tr.transformer_block_forward(x, params, 2, causal=True)
    return {
        "transformer.centering_matrix": tr.centering_matrix(4, F32),
        "transformer.layer_norm_forward": (ln_out, ln_cache),
        # a float64 dout must not promote the float32 backward passes
        "transformer.layer_norm_backward": tr.layer_norm_backward(
            np.ones(ln_out.shape), ln_cache
        ),
        "transformer.layer_norm": tr.layer_norm(x, gamma, beta),
        "transformer.feed_forward_forward": (ffn_out, ffn_cache),
        "transformer.feed_forward_backward": tr.feed_forward_backward(
            np.ones(ffn_out.shape), ffn_cache
        ),
        "transformer.feed_forward": tr.feed_forward(x, W1, b1, W2, f32(rng, 4)),
        "transformer.init_block_params": params,
        "transformer.transformer_block_forward": (out, cache),
        "transformer.transformer_block_backward": tr.transformer_block_backward(
            np.ones(out.shape), cache
        ),
        "transformer.transformer_block": tr.transformer_block(x, params, 2),
    }


def _lowrank(rng):
    from lalib import lowrank, mlp

    W, x, b = f32(rng, 6, 5), f32(rng, 3, 6), f32(rng, 5)
    A, B = lowrank.init_lora(W, 2, rng)
    B += f32(rng, 2, 5)
    params = mlp.init_params((6, 5, 3), rng, dtype=F32)
    adapters = [lowrank.init_lora(params[0], 2, rng), None]
    X, y = f32(rng, 8, 6), rng.integers(0, 3, size=8)
    outs = {}
    for N in (3, 40):  # both evaluation orders of lora_forward
        xN = f32(rng, N, 6)
        out, cache = lowrank.lora_forward(xN, W, b, A, B, 0.5)
        outs[N] = (out, cache, lowrank.lora_backward(f32(rng, N, 5), cache))
    history = lowrank.train_lora(
        params, adapters, X, y, epochs=1, batch_size=4, lr=0.1, rng=rng
    )
    return {
        "lowrank.low_rank_factors": lowrank.low_rank_factors(W, 2),
        "lowrank.low_rank_approx": lowrank.low_rank_approx(W, 2),
        "lowrank.eckart_young_errors": lowrank.eckart_young_errors(W),
        "lowrank.compress_params": lowrank.compress_params(params, [2, None])[0],
        "lowrank.init_lora": (A, B),
        "lowrank.lora_forward": (outs[3][:2], outs[40][:2]),
        "lowrank.lora_backward": (outs[3][2], outs[40][2]),
        "lowrank.lora": lowrank.lora(x, W, b, A, B),
        "lowrank.lora_mlp_loss": lowrank.lora_mlp_loss(params, adapters, X, y),
        "lowrank.merge_lora": lowrank.merge_lora(params, adapters),
        # the adapters are updated in place and must stay float32 (the history is a
        # record of Python floats, as for mlp.train)
        "lowrank.train_lora": adapters if history["loss"].size else None,
    }


BUILDERS = (
    _fourier,
    _linear,
    _linear_layer,
    _activations,
    _losses,
    _conv,
    _attention,
    _mlp,
    _optim,
    _decomp,
    _data,
    _engine_conv,
    _engine_algorithms,
    _engine_attention,
    _backprop,
    _positions,
    _transformer,
    _lowrank,
)
CASE_MODULE = {
    "_fourier": "fourier",
    "_linear": "linear",
    "_linear_layer": "linear",
    "_activations": "activations",
    "_losses": "losses",
    "_conv": "conv",
    "_attention": "attention",
    "_mlp": "mlp",
    "_optim": "optim",
    "_decomp": "decomp",
    "_data": "data",
    "_engine_conv": "engine.conv",
    "_engine_algorithms": "engine",
    "_engine_attention": "engine.attention",
    "_backprop": "backprop",
    "_positions": "positions",
    "_transformer": "transformer",
    "_lowrank": "lowrank",
}
# Which function names each builder produces, so a case can be parametrised by name.
CASES = {
    "fourier": [
        "circulant",
        "circular_convolve",
        "circulant_eigenvalues",
        "circulant2d",
        "circular_conv2d",
        "circulant2d_eigenvalues",
        "embed_toeplitz",
    ],
    "linear": ["linear_forward", "linear_backward", "linear"],
    "linear_layer": ["LinearLayer"],
    "activations": [
        "relu_forward",
        "relu_backward",
        "relu",
        "softmax",
        "softmax_backward",
    ],
    "losses": ["squared_error", "softmax_cross_entropy"],
    "conv": [
        "conv2d_naive",
        "toeplitz_matrix",
        "im2col",
        "col2im",
        "conv2d_forward",
        "conv2d_backward",
        "conv2d",
        "conv_transpose2d_forward",
        "conv_transpose2d_backward",
        "conv_transpose2d",
    ],
    "attention": [
        "attention_forward",
        "attention_backward",
        "scaled_dot_product_attention",
        "attention_naive",
        "attention_blockwise",
        "split_heads",
        "merge_heads",
        "multi_head_attention_forward",
        "multi_head_attention_backward",
        "multi_head_attention",
    ],
    "mlp": ["init_params", "mlp_forward", "mlp_backward", "mlp_loss", "train"],
    "optim": [
        "quadratic_loss",
        "quadratic_grad",
        "quadratic_minimizer",
        "gd_step",
        "gradient_descent",
    ],
    "decomp": [
        "covariance",
        "pca",
        "pca_transform",
        "pca_reconstruct",
        "lstsq_normal_equations",
        "lstsq_qr",
        "lstsq_svd",
    ],
    "data": ["load_digits", "train_test_split", "sample_image"],
    "engine_conv": ["column_blocks", "conv2d_forward", "conv2d_backward", "conv2d"],
    "engine_algorithms": [
        "conv.conv2d_forward winograd",
        "conv.conv2d_forward fft",
        "winograd.conv2d_forward",
        "winograd.conv2d_backward",
        "fft.conv2d_forward",
        "fft.conv2d_backward",
    ],
    "engine_attention": [
        "softmax_rows_inplace",
        "attention_forward",
        "scaled_dot_product_attention",
        "attention_blockwise",
    ],
    "backprop": [
        "linear_jacobian",
        "relu_jacobian",
        "softmax_jacobian",
        "vjp_chain",
        "jvp_chain",
        "chain_product",
        "graph_forward",
        "graph_backward",
    ],
    "positions": [
        "sinusoidal_encoding",
        "rope_forward",
        "rope_backward",
        "rope",
        "rope_attention_forward",
        "rope_attention_backward",
        "rope_attention",
    ],
    "transformer": [
        "centering_matrix",
        "layer_norm_forward",
        "layer_norm_backward",
        "layer_norm",
        "feed_forward_forward",
        "feed_forward_backward",
        "feed_forward",
        "init_block_params",
        "transformer_block_forward",
        "transformer_block_backward",
        "transformer_block",
    ],
    "lowrank": [
        "low_rank_factors",
        "low_rank_approx",
        "eckart_young_errors",
        "compress_params",
        "init_lora",
        "lora_forward",
        "lora_backward",
        "lora",
        "lora_mlp_loss",
        "merge_lora",
        "train_lora",
    ],
}
PARAMS = [
    (builder, f"{CASE_MODULE[builder.__name__]}.{name}")
    for builder in BUILDERS
    for name in CASES[builder.__name__[1:]]
]


@pytest.mark.parametrize("builder, qualname", PARAMS, ids=[q for _, q in PARAMS])
def test_float32_stays_float32(builder, qualname, rng):
    result = builder(rng)[qualname]
    found = list(floating_arrays(result))
    assert found, f"{qualname} returned no floating array to check"
    promoted = sorted({str(a.dtype) for a in found if a.dtype != F32})
    assert not promoted, f"{qualname}: float32 input gave {promoted} in its result"


def test_every_public_function_is_covered():
    covered = {q for _, q in PARAMS}
    missing = []
    for name in MODULES:
        module = importlib.import_module(f"lalib.{name}")
        for attr, obj in vars(module).items():
            if (
                attr.startswith("_")
                or not callable(obj)
                or getattr(obj, "__module__", None) != module.__name__
            ):
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            qualname = f"{name}.{attr}"
            if qualname not in covered and qualname not in NOT_KERNELS:
                missing.append(qualname)
    assert not missing, (
        f"public functions with no float32 case in tests/test_dtypes.py: {missing}"
    )


def test_the_check_can_fail():
    """The collector sees a float64 array hidden in a nested cache."""
    found = list(floating_arrays((np.zeros(2, F32), [{"a": np.zeros(1)}], 3.0)))
    assert [a.dtype for a in found] == [np.dtype(F32), np.dtype(np.float64)]
