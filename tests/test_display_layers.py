"""lalib.display.layers: the shapes explorer agrees with lalib, the training player
holds its numbers."""

import numpy as np
import pytest

from lalib import linear
from lalib.display import layers


def test_shapes_explorer_defaults_are_the_chapter_example():
    ex = layers.ShapesExplorer()
    assert (ex.N, ex.D, ex.M) == (4, 3, 2)
    assert ex.shapes["out"] == (4, 2) and ex.shapes["grad_bias"] == (2,)
    assert ex.multiply_adds == {"out": 24, "grad_input": 24, "grad_weights": 24}


@pytest.mark.parametrize("n, d, m", [(1, 1, 1), (4, 3, 2), (2, 7, 5), (8, 8, 8)])
def test_shapes_explorer_matches_the_layer(n, d, m):
    """Every shape drawn is the shape lalib's forward and backward passes produce."""
    rng = np.random.default_rng(0)
    ex = layers.ShapesExplorer(N=n, D=d, M=m)
    x, W, b = rng.standard_normal((n, d)), rng.standard_normal((d, m)), np.zeros(m)
    out, cache = linear.linear_forward(x, W, b)
    g = np.ones_like(out)
    dx, dW, db = linear.linear_backward(g, cache)
    arrays = dict(x=x, W=W, b=b, out=out, g=g, grad_input=dx, grad_weights=dW)
    arrays["grad_bias"] = db
    assert ex.shapes == {k: v.shape for k, v in arrays.items()}
    assert ex.multiply_adds["out"] == x.shape[1] * out.size
    assert ex.multiply_adds["grad_input"] == g.shape[1] * dx.size
    assert ex.multiply_adds["grad_weights"] == x.shape[0] * dW.size


def test_shapes_explorer_rejects_sizes_out_of_range():
    with pytest.raises(ValueError, match="N must be from 1 to 8, got 0"):
        layers.ShapesExplorer(N=0)
    ex = layers.ShapesExplorer()
    with pytest.raises(ValueError, match="M must be from 1 to 8, got 9"):
        ex.M = 9
    assert ex.M == 2


def test_shapes_explorer_describes_its_state():
    assert repr(layers.ShapesExplorer(N=4, D=3, M=2)) == (
        "ShapesExplorer with N=4, D=3, M=2: out (4, 2) = x (4, 3) @ W (3, 2) + b (2,); "
        "24 multiply-adds forward, 48 backward"
    )


def test_shapes_explorer_bundles_its_module_and_syncs():
    ex = layers.ShapesExplorer()
    assert "shapes.js" in ex._esm and "function shapeText" in ex._esm
    assert "la-term-shape" in ex._css and ".la-explorable" in ex._css
    state = ex.get_state()
    assert (state["N"], state["D"], state["M"]) == (4, 3, 2)
    ex.set_state({"N": 6, "D": 1, "M": 5})
    assert (ex.N, ex.D, ex.M) == (6, 1, 5)
    assert ex.shapes["grad_weights"] == (1, 5)


def test_training_player_draws_each_epoch_from_its_numbers():
    rng = np.random.default_rng(1)
    images = rng.uniform(size=(5, 64))
    snapshots = {e: (rng.dirichlet(np.ones(10), size=5), 0.5) for e in (0, 1)}
    player = layers.training_player(snapshots, images, np.arange(5))
    assert player.kind == "digits" and player.play == "epoch"
    assert player.axes == [{"name": "epoch", "labels": ["0", "1"], "ordered": True}]
    assert np.allclose(player.shared["digits"], images, atol=0.005)
    assert player.shared["labels"] == [0, 1, 2, 3, 4]
    assert np.allclose(player.charts[1]["probs"], snapshots[1][0], atol=5e-4)
    assert player.charts[1]["title"] == "after 1 epochs: test accuracy 50.0 %"
    assert player.selection == {"epoch": "0"}
    assert player.alts[1].startswith("After 1 epochs, test accuracy 50.0 %. 5 test")
    p = np.round(snapshots[1][0][2], 3)
    assert (
        f"true 2, guess {int(np.argmax(p))} with probability {p.max():.2f}"
        in player.alts[1]
    )
    assert "function digitsChart" in player._esm


def test_training_player_rejects_mismatched_inputs():
    snapshots = {0: (np.full((2, 10), 0.1), 0.5)}
    with pytest.raises(ValueError, match=r"got \(3, 64\) for 2 labels"):
        layers.training_player(snapshots, np.zeros((3, 64)), [0, 1])
    with pytest.raises(ValueError, match=r"epoch 0: probabilities of shape \(2, 10\)"):
        layers.training_player(snapshots, np.zeros((3, 64)), [0, 1, 2])
