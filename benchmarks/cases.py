"""What the suite measures (issue 7), and the targets each case is held to.

Every comparison case times three things on the same data, interleaved:

- the lalib kernel;
- ``gemm``: NumPy's ``np.matmul`` doing only the matrix products the kernel reduces
  to, at the same shapes and dtype (the "engine" alone: a kernel cannot beat it by
  much, and the share of time it takes is how much of the kernel is engine);
- ``torch``: the same operation in PyTorch on the CPU, with NumPy's thread count.

Sizes come from `Config`: `FULL` is the issue's list, `QUICK` is tiny and exists for
the smoke test (its timings mean nothing).

FLOP counts are those of the matrix products, 2 per multiply-add: ``2 N D M`` for a
linear layer's forward pass (three such products forward+backward), ``2 N F H' W' C KH
KW`` for a convolution's, ``4 B h n^2 d_k`` for attention's ``Q K^T`` and ``P V``.
"""

import dataclasses
import time

import numpy as np

from benchmarks import harness
from lalib import attention, conv, linear
from lalib.engine import attention as attention_engine
from lalib.engine import conv as conv_engine

DTYPES = (np.float32, np.float64)


def relative_error(approx, exact):
    """``max |approx - exact| / max |exact|``: the error relative to the scale."""
    exact = np.asarray(exact, dtype=np.float64)
    return float(np.abs(approx - exact).max() / np.abs(exact).max())


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes and timing budget of a run."""

    gemm_sizes: tuple = (32, 64, 128, 256, 512, 1024, 2048)
    linear: tuple = (256, 1024, 1024)  # N, D, M
    conv: tuple = ((32, 3, 32, 16), (32, 64, 32, 64), (8, 128, 56, 128))  # N, C, H=W, F
    conv_naive: tuple = (8, 16, 32, 16)  # N, C, H=W, F: issue 4's speed-up case
    # float32 3x3 cases timed once per algorithm (im2col, Winograd, FFT): N, C, H=W, F
    conv_algorithms: tuple = ((32, 64, 32, 64), (8, 128, 56, 128))
    # the large-kernel case: N, C, H=W, F, K (K x K kernel, padding K // 2)
    conv_large_kernel: tuple = (8, 32, 64, 32, 11)
    attention_heads: tuple = (8, 8, 64)  # B, h, d_k
    attention_n: tuple = (128, 512, 2048)
    blockwise_n: int = 8192
    blockwise_block: int = 256
    attention_naive: tuple = (
        1,
        2,
        32,
        32,
    )  # B, h, n, d_k: the loops are scalar, keep it small
    sweep_conv: tuple = (8, 16, 16)  # N, C=F... of the chapter's sweep: N, C, F
    sweep_hw: tuple = (4, 6, 8, 12, 16, 24, 32, 48, 64)
    sweep_naive_max_s: float = 2.0  # stop the loops once one call takes longer
    sweep_toeplitz_max_mib: float = 128.0  # largest dense Toeplitz matrix built
    sweep_attention: tuple = (1, 8, 64)  # B, h, d_k of the memory sweep
    sweep_attention_n: tuple = (256, 512, 1024, 2048, 4096)
    # where each algorithm starts to win (float32, stride 1): 3x3 filters on N images
    # of H x H with C = F channels and filters, im2col vs Winograd; then K x K kernels
    # (padding K // 2) with C = F, im2col vs the FFT
    sweep_winograd: tuple = (16, 32)  # N, H
    sweep_winograd_channels: tuple = (4, 8, 16, 32, 64)
    sweep_winograd_small: tuple = (64, 64, (4, 6, 8))  # N, C = F, the sides H
    sweep_fft: tuple = (8, 32)  # N, H
    sweep_fft_channels: tuple = (8, 32)
    sweep_fft_kernels: tuple = (3, 5, 7, 9, 11)
    bandwidth_mib: int = 256
    budget_s: float = 0.7
    min_repeats: int = 3
    max_repeats: int = 11
    settle_s: float = harness.SETTLE_S
    guard: bool = True  # wait for other programs to go quiet, re-run disturbed blocks


FULL = Config()
QUICK = Config(
    gemm_sizes=(32, 64),
    linear=(8, 16, 12),
    conv=((2, 3, 8, 4), (2, 8, 8, 8)),
    conv_naive=(1, 2, 6, 3),
    conv_algorithms=((2, 4, 8, 4),),
    conv_large_kernel=(1, 2, 12, 2, 5),
    attention_heads=(1, 2, 8),
    attention_n=(16, 32),
    blockwise_n=64,
    blockwise_block=16,
    attention_naive=(1, 1, 4, 4),
    sweep_conv=(1, 2, 2),
    sweep_hw=(4, 6),
    sweep_naive_max_s=0.5,
    sweep_toeplitz_max_mib=1.0,
    sweep_attention=(1, 1, 8),
    sweep_attention_n=(16, 32),
    sweep_winograd=(1, 8),
    sweep_winograd_channels=(2,),
    sweep_winograd_small=(1, 2, (4,)),
    sweep_fft=(1, 8),
    sweep_fft_channels=(2,),
    sweep_fft_kernels=(3, 5),
    bandwidth_mib=1,
    budget_s=0.0,
    min_repeats=1,
    max_repeats=1,
    settle_s=0.0,
    guard=False,
)


def conv_columns_only(x, kernel=(3, 3), stride=(1, 1), padding=(1, 1)):
    """Build every block of im2col columns as `conv.conv2d` does, without the products.

    The copying part of the fast kernel (`lalib.engine.conv`, which `conv.conv2d`
    runs), timed alone: its blocks, its scratch buffers.
    """
    for _ in conv_engine.column_blocks(x, kernel, stride, padding):
        pass


def _target(label, measured, op, value):
    met = (
        None
        if measured is None
        else bool(measured <= value if op == "<=" else measured >= value)
    )
    return {"label": label, "measured": measured, "op": op, "value": value, "met": met}


class Suite:
    """Runs the cases, collecting records (table rows), sweeps (chapter plots) and
    notes."""

    def __init__(self, config=FULL, torch=None, groups=None, log=print):
        self.cfg = config
        self.torch = torch
        self.groups = groups
        self.log = log
        self.records = []
        self.sweeps = {}
        self.skipped = []
        self.gemm_peak = {}
        self.rng = np.random.default_rng(0)
        self.quiet = harness.Quiet(enabled=config.guard)

    # ------------------------------------------------------------------ helpers

    def randn(self, shape, dtype):
        return self.rng.standard_normal(shape).astype(dtype)  # (shape), in `dtype`

    def time(self, fns, **kw):
        cfg = self.cfg
        opts = dict(
            budget_s=cfg.budget_s,
            min_repeats=cfg.min_repeats,
            max_repeats=cfg.max_repeats,
            settle_s=cfg.settle_s,
            quiet=self.quiet,
        )
        opts.update(kw)
        return harness.time_functions(fns, **opts)

    def compare(
        self,
        group,
        name,
        dtype,
        shape,
        flops,
        lalib_fn,
        gemm_fn=None,
        torch_fn=None,
        memory=False,
        params=None,
        gemm_elements=None,
        parts=None,
        **time_kw,
    ):
        """Time lalib vs GEMM vs torch on one case and append the record.

        `gemm_elements` is how many numbers the kernel's matrix products read and write
        at the least (each operand once); with it the record gets the arithmetic
        intensity, FLOP per byte, that places it on the roofline. `parts` maps a name to
        a function doing one step of the kernel alone (recorded as ``<name>_time_s``).
        """
        out = lalib_fn()  # also checks the dtype the kernel returns
        first = out[0] if isinstance(out, tuple) else out
        self.quiet.new_case()
        fns = {"lalib": lalib_fn}
        if gemm_fn is not None:
            fns["gemm"] = gemm_fn
        if torch_fn is not None and self.torch is not None:
            fns["torch"] = torch_fn
        fns.update(parts or {})
        times = self.time(fns, **time_kw)
        t = harness.median(times["lalib"])
        rec = {
            "group": group,
            "name": name,
            "dtype": np.dtype(dtype).name,
            "shape": shape,
            "params": params or {},
            "flops": flops,
            "time_s": t,
            "times_s": times["lalib"],
            "gflops": flops / t / 1e9,
            "dtype_ok": bool(first.dtype == dtype),
        }
        if gemm_elements:
            rec["intensity"] = flops / (gemm_elements * np.dtype(dtype).itemsize)
        if "gemm" in times:
            tg = min(times["gemm"])  # the engine at its best on these shapes: a ceiling
            rec.update(
                gemm_time_s=tg,
                gemm_times_s=times["gemm"],
                gemm_gflops=flops / tg / 1e9,
                pct_gemm=100 * tg / t,
            )
        peak = self.gemm_peak.get(rec["dtype"])
        rec["pct_peak"] = 100 * rec["gflops"] / peak if peak else None
        if "torch" in times:
            tt = harness.median(times["torch"])
            rec.update(
                torch_time_s=tt, torch_times_s=times["torch"], ratio_torch=t / tt
            )
        for part in parts or {}:
            rec[f"{part}_time_s"] = harness.median(times[part])
        rec["others_cpu_share"] = self.quiet.case_max
        if memory:
            self.quiet.wait()
            peak_bytes = harness.peak_memory(lalib_fn)[0]
            rec["peak_mib"] = peak_bytes / harness.MIB
        rec["targets"] = []
        self.records.append(rec)
        self.log(
            f"  {name:24s} {rec['dtype']:8s} {shape:34s} {t * 1e3:9.2f} ms "
            f"{rec['gflops']:7.1f} GFLOP/s"
            + (f"  x torch {rec['ratio_torch']:.2f}" if "ratio_torch" in rec else "")
        )
        return rec

    def wants(self, group):
        return self.groups is None or group in self.groups

    def run(self):
        steps = [
            ("gemm", self.gemm),
            ("linear", self.linear),
            ("naive", self.naive),
            ("conv", self.conv),
            ("conv", self.conv_algorithms),
            ("attention", self.attention),
            ("sweep", self.sweep_conv),
            ("sweep", self.sweep_algorithms),
            ("sweep", self.sweep_attention),
        ]
        for group, step in steps:
            if group == "gemm" or self.wants(group):
                start = time.perf_counter()
                self.log(f"{step.__name__} ...")
                step()
                self.log(f"  ({time.perf_counter() - start:.0f} s)")

    # --------------------------------------------------------------- the cases

    def gemm(self):
        """The engine: np.matmul on square matrices; the peak is the best median."""
        rows = []
        for dtype in DTYPES:
            best = 0.0
            for n in self.cfg.gemm_sizes:
                a, b = self.randn((n, n), dtype), self.randn((n, n), dtype)
                t = harness.median(self.time({"gemm": lambda: a @ b})["gemm"])
                g = 2 * n**3 / t / 1e9
                rows.append(
                    {"dtype": np.dtype(dtype).name, "n": n, "time_s": t, "gflops": g}
                )
                best = max(best, g)
                self.log(f"  gemm {np.dtype(dtype).name} {n}: {g:.1f} GFLOP/s")
            self.gemm_peak[np.dtype(dtype).name] = best
        self.sweeps["gemm_square"] = rows
        # Memory bandwidth for the roofline: one copy reads and writes every byte.
        src = np.ones(self.cfg.bandwidth_mib * harness.MIB // 8)
        dst = np.empty_like(src)
        t = harness.median(self.time({"copy": lambda: np.copyto(dst, src)})["copy"])
        self.sweeps["bandwidth_gbs"] = 2 * src.nbytes / t / 1e9
        self.log(f"  copy bandwidth {self.sweeps['bandwidth_gbs']:.1f} GB/s")

    def linear(self):
        N, D, M = self.cfg.linear
        torch = self.torch
        for dtype in DTYPES:
            x, W, b = (
                self.randn((N, D), dtype),
                self.randn((D, M), dtype),
                self.randn(M, dtype),
            )
            dout = self.randn((N, M), dtype)

            def lalib_fn():
                out, cache = linear.linear_forward(x, W, b)  # (N, M)
                return linear.linear_backward(dout, cache)  # dx, dW, db

            def gemm_fn():
                return x @ W, dout @ W.T, x.T @ dout  # the three products, nothing else

            torch_fn = None
            if torch is not None:
                tx, tW, tb = (torch.from_numpy(a).requires_grad_() for a in (x, W, b))
                tdout = torch.from_numpy(dout)

                def torch_fn():
                    out = torch.addmm(tb, tx, tW)  # (N, M)
                    return torch.autograd.grad(out, (tx, tW, tb), tdout)

            rec = self.compare(
                "linear",
                "linear fwd+bwd",
                dtype,
                f"({N}, {D}) -> {M}",
                6 * N * D * M,
                lalib_fn,
                gemm_fn,
                torch_fn,
                params={"N": N, "D": D, "M": M},
                gemm_elements=3 * (N * D + D * M + N * M),
            )
            rec["targets"] = [
                _target("<= 1.0x torch", rec.get("ratio_torch"), "<=", 1.0),
                _target(">= 85 % of GEMM peak", rec.get("pct_peak"), ">=", 85.0),
            ]

    def naive(self):
        """Each loop reference in lalib against its vectorised counterpart."""
        N, C, H, F = self.cfg.conv_naive
        for dtype in DTYPES:
            x, w, b = (
                self.randn((N, C, H, H), dtype),
                self.randn((F, C, 3, 3), dtype),
                self.randn(F, dtype),
            )
            times = self.time(
                {
                    "naive": lambda: conv.conv2d_naive(x, w, b, padding=1),
                    "fast": lambda: conv.conv2d(x, w, b, padding=1),
                },
                min_repeats=min(2, self.cfg.max_repeats),
            )
            self._naive_record(
                "conv2d_naive vs conv2d",
                dtype,
                f"({N}, {C}, {H}, {H}), F={F}, 3x3",
                2 * N * F * H * H * C * 9,
                times,
            )
        naive_fn = attention.attention_naive
        B, h, n, d = self.cfg.attention_naive
        for dtype in DTYPES:
            Q, K, V = (self.randn((B, h, n, d), dtype) for _ in range(3))
            times = self.time(
                {
                    "naive": lambda: naive_fn(Q, K, V),
                    "fast": lambda: attention.scaled_dot_product_attention(Q, K, V),
                },
                min_repeats=min(2, self.cfg.max_repeats),
            )
            self._naive_record(
                "attention_naive vs sdpa",
                dtype,
                f"B={B}, h={h}, n={n}, d_k={d}",
                4 * B * h * n * n * d,
                times,
            )

    def _naive_record(self, name, dtype, shape, flops, times):
        tn, tf = harness.median(times["naive"]), harness.median(times["fast"])
        rec = {
            "group": "naive",
            "name": name,
            "dtype": np.dtype(dtype).name,
            "shape": shape,
            "flops": flops,
            "time_s": tf,
            "times_s": times["fast"],
            "gflops": flops / tf / 1e9,
            "naive_time_s": tn,
            "naive_times_s": times["naive"],
            "speedup": tn / tf,
            "targets": [],
        }
        peak = self.gemm_peak.get(rec["dtype"])
        rec["pct_peak"] = 100 * rec["gflops"] / peak if peak else None
        self.records.append(rec)
        self.log(
            f"  {name} {rec['dtype']}: loops {tn * 1e3:.0f} ms, "
            f"vectorised {tf * 1e3:.2f} ms, speed-up {tn / tf:.0f}x"
        )

    def conv(self):
        torch = self.torch
        for N, C, H, F in self.cfg.conv:
            KK = C * 9  # C * KH * KW
            P = N * H * H  # output pixels of the batch (3x3, padding 1: H' = H)
            flops = 2 * N * F * H * H * C * 9
            shape = f"({N}, {C}, {H}, {H}), F={F}, 3x3 p1"
            params = {
                "N": N,
                "C": C,
                "H": H,
                "W": H,
                "F": F,
                "KH": 3,
                "KW": 3,
                "padding": 1,
            }
            for dtype in DTYPES:
                x, w, b = (
                    self.randn((N, C, H, H), dtype),
                    self.randn((F, C, 3, 3), dtype),
                    self.randn(F, dtype),
                )
                dout = self.randn((N, F, H, H), dtype)
                # The canonical im2col GEMM, (F, CKK) @ (CKK, N H'W'), and its two
                # backward products.
                A, Bm, G = (
                    self.randn((F, KK), dtype),
                    self.randn((KK, P), dtype),
                    self.randn((F, P), dtype),
                )

                def gemm_fwd():
                    return A @ Bm  # (F, CKK) @ (CKK, P)

                def gemm_fwd_bwd():
                    return A @ Bm, G @ Bm.T, A.T @ G  # out, dW, dcols

                torch_fwd = torch_fwd_bwd = None
                if torch is not None:
                    tx, tw, tb = (
                        torch.from_numpy(a).requires_grad_() for a in (x, w, b)
                    )
                    tdout = torch.from_numpy(dout)
                    conv2d = torch.nn.functional.conv2d

                    def torch_fwd():
                        with torch.no_grad():
                            return conv2d(tx, tw, tb, padding=1)

                    def torch_fwd_bwd():
                        out = conv2d(tx, tw, tb, padding=1)
                        return torch.autograd.grad(out, (tx, tw, tb), tdout)

                # The fast path: lalib.engine.conv (what conv.conv2d runs), not the
                # readable conv.conv2d_forward/backward that keep all the columns.
                def lalib_fwd_bwd():
                    out, cache = conv_engine.conv2d_forward(x, w, b, padding=1)
                    return conv_engine.conv2d_backward(dout, cache)

                def lalib_fwd():
                    return conv_engine.conv2d(x, w, b, padding=1)

                # the algorithm conv2d's "auto" takes for this layer
                chosen = conv_engine.choose_algorithm(x.shape, w.shape, 1, 1, dtype)[0]
                rec_params = {**params, "chosen": chosen}

                fwd = self.compare(
                    "conv",
                    "conv2d forward",
                    dtype,
                    shape,
                    flops,
                    lalib_fwd,
                    gemm_fwd,
                    torch_fwd,
                    memory=True,
                    params=rec_params,
                    gemm_elements=F * KK + KK * P + F * P,
                    parts={"im2col": lambda: conv_columns_only(x)},
                )
                both = self.compare(
                    "conv",
                    "conv2d fwd+bwd",
                    dtype,
                    shape,
                    3 * flops,
                    lalib_fwd_bwd,
                    gemm_fwd_bwd,
                    torch_fwd_bwd,
                    memory=True,
                    params=rec_params,
                    gemm_elements=3 * (F * KK + KK * P + F * P),
                )
                if C >= 64:
                    fwd["targets"] = [
                        _target(
                            "<= 1.5x torch (floor)", fwd.get("ratio_torch"), "<=", 1.5
                        ),
                        _target(
                            "<= 1.0x torch (stretch)", fwd.get("ratio_torch"), "<=", 1.0
                        ),
                        _target(
                            ">= 60 % of GEMM peak", fwd.get("pct_peak"), ">=", 60.0
                        ),
                    ]
                else:
                    fwd["targets"] = [
                        _target("faster than torch", fwd.get("ratio_torch"), "<=", 1.0)
                    ]
                both["targets"] = [
                    _target("<= 1.3x torch", both.get("ratio_torch"), "<=", 1.3)
                ]

    def conv_algorithms(self):
        """float32 convolution by each algorithm of `lalib.engine.conv` vs torch.

        3x3, padding 1 at the `Config.conv_algorithms` sizes, forward and
        forward+backward, once per algorithm (``auto`` is the plain "conv2d forward"
        row above); then a large kernel (`Config.conv_large_kernel`) by ``auto`` (the
        FFT) and by im2col. FLOP counts are those of direct convolution, so GFLOP/s
        is "effective" for Winograd and the FFT, which do fewer multiplications.
        Each record also has ``error``: the float32 result's largest deviation from
        float64 im2col on the same data, relative to the largest float64 value (for
        forward+backward, the largest of that over dx, dw and db).
        """
        torch = self.torch
        dtype = np.float32
        cases = [(*c, 3, "3x3") for c in self.cfg.conv_algorithms]
        N, C, H, F, K = self.cfg.conv_large_kernel
        cases.append((N, C, H, F, K, "large"))
        for N, C, H, F, K, kind in cases:
            p = K // 2
            flops = 2 * N * F * H * H * C * K * K
            shape = f"({N}, {C}, {H}, {H}), F={F}, {K}x{K} p{p}"
            x, w, b = (
                self.randn((N, C, H, H), dtype),
                self.randn((F, C, K, K), dtype),
                self.randn(F, dtype),
            )
            dout = self.randn((N, F, H, H), dtype)
            # float64 im2col on the same (rounded) data: what each algorithm's float32
            # output and gradients are measured against
            exact_out, cache64 = conv_engine.conv2d_forward(
                *(a.astype(np.float64) for a in (x, w, b)), 1, p, "im2col"
            )
            exact_grads = conv_engine.conv2d_backward(dout.astype(np.float64), cache64)
            torch_fwd = torch_fwd_bwd = None
            if torch is not None:
                tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
                tdout = torch.from_numpy(dout)
                tconv = torch.nn.functional.conv2d

                def torch_fwd(tx=tx, tw=tw, tb=tb, p=p):
                    with torch.no_grad():
                        return tconv(tx, tw, tb, padding=p)

                def torch_fwd_bwd(tx=tx, tw=tw, tb=tb, tdout=tdout, p=p):
                    out = tconv(tx, tw, tb, padding=p)
                    return torch.autograd.grad(out, (tx, tw, tb), tdout)

            algorithms = (
                ("im2col", "winograd", "fft") if kind == "3x3" else ("auto", "im2col")
            )
            for algorithm in algorithms:
                params = {
                    "N": N, "C": C, "H": H, "W": H, "F": F, "KH": K, "KW": K,
                    "padding": p, "algorithm": algorithm,
                }  # fmt: skip
                if algorithm == "auto":
                    params["chosen"] = conv_engine.choose_algorithm(
                        x.shape, w.shape, 1, p, dtype
                    )[0]

                def fwd(x=x, w=w, b=b, p=p, algorithm=algorithm):
                    return conv_engine.conv2d(x, w, b, 1, p, algorithm)

                def fwd_bwd(x=x, w=w, b=b, p=p, algorithm=algorithm, dout=dout):
                    out, cache = conv_engine.conv2d_forward(x, w, b, 1, p, algorithm)
                    return conv_engine.conv2d_backward(dout, cache)

                rec = self.compare(
                    "conv",
                    f"conv2d forward ({algorithm})",
                    dtype,
                    shape,
                    flops,
                    fwd,
                    None,
                    torch_fwd,
                    params=params,
                )
                both = self.compare(
                    "conv",
                    f"conv2d fwd+bwd ({algorithm})",
                    dtype,
                    shape,
                    3 * flops,
                    fwd_bwd,
                    None,
                    torch_fwd_bwd,
                    params=params,
                )
                rec["error"] = relative_error(fwd(), exact_out)
                both["error"] = max(map(relative_error, fwd_bwd(), exact_grads))
                if kind == "large" or algorithm == "winograd":
                    rec["targets"] = [
                        _target("<= 1.0x torch", rec.get("ratio_torch"), "<=", 1.0)
                    ]
                    both["targets"] = [
                        _target("<= 1.3x torch", both.get("ratio_torch"), "<=", 1.3)
                    ]

    def attention(self):
        torch = self.torch
        B, h, d = self.cfg.attention_heads
        for n in self.cfg.attention_n:
            flops = 4 * B * h * n * n * d
            shape = f"B={B}, h={h}, n={n}, d_k={d}"
            for dtype in DTYPES:
                Q, K, V = (self.randn((B, h, n, d), dtype) for _ in range(3))
                S = self.randn((B, h, n, n), dtype)

                def gemm_fn():  # (n, d)(d, n) and (n, n)(n, d), batched
                    return Q @ K.swapaxes(-1, -2), S @ V

                torch_fn = None
                if torch is not None:
                    tQ, tK, tV = (torch.from_numpy(a) for a in (Q, K, V))

                    def torch_fn():
                        with torch.no_grad():
                            return torch.nn.functional.scaled_dot_product_attention(
                                tQ, tK, tV
                            )

                params = {"B": B, "h": h, "n": n, "d_k": d}
                # Like PyTorch's SDPA, the output alone: the weights are never all in
                # memory.
                rec = self.compare(
                    "attention",
                    "attention dense",
                    dtype,
                    shape,
                    flops,
                    lambda: attention.scaled_dot_product_attention(
                        Q, K, V, need_weights=False
                    ),
                    gemm_fn,
                    torch_fn,
                    memory=True,
                    params=params,
                    gemm_elements=B * h * (4 * n * d + 2 * n * n),
                )
                if n == max(self.cfg.attention_n):
                    rec["targets"] = [
                        _target("<= 1.5x torch SDPA", rec.get("ratio_torch"), "<=", 1.5)
                    ]
                    if (
                        dtype == np.float32
                    ):  # what returning the weights too costs (chapter 3's call)
                        self.compare(
                            "attention",
                            "attention dense + weights",
                            dtype,
                            shape,
                            flops,
                            lambda: attention.scaled_dot_product_attention(Q, K, V),
                            gemm_fn,
                            torch_fn,
                            memory=True,
                            params=params,
                            gemm_elements=B * h * (4 * n * d + 2 * n * n),
                        )
                # Free the scores before the next allocation (and before blockwise):
                # gemm_fn, the only user, has been timed; emptying the name it reads
                # instead of deleting it keeps the closure well defined.
                S = None
        self.blockwise(attention)

    def blockwise(self, attention):
        """One long call each: memory and time at n = 8192, where dense would need
        ~48 GiB."""
        B, h, d = self.cfg.attention_heads
        n, block = self.cfg.blockwise_n, self.cfg.blockwise_block
        torch = self.torch
        # float32 only: one float64 call at n = 8192 takes about a minute on 2 cores,
        # and the target (and the ~48 GiB dense comparison) is about float32.
        self.skipped.append(
            f"attention blockwise at n={n} in float64 "
            "(float32 only, to keep the run short)"
        )
        for dtype in (np.float32,):
            Q, K, V = (self.randn((B, h, n, d), dtype) for _ in range(3))
            for attempt in range(
                2
            ):  # one long call; once more if another program disturbed it
                self.quiet.wait()
                snap = self.quiet.start()
                peak_bytes, seconds, out = harness.peak_memory(
                    lambda: attention_engine.attention_blockwise(
                        Q, K, V, block_size=block
                    )
                )
                share = self.quiet.share_since(snap)
                if not self.quiet.should_retry(share, attempt, 1):
                    break
            self.quiet.new_case()
            self.quiet.accept(share)
            itemsize = np.dtype(dtype).itemsize
            rec = {
                "group": "attention",
                "name": "attention blockwise",
                "dtype": np.dtype(dtype).name,
                "shape": f"B={B}, h={h}, n={n}, d_k={d}, block={block}",
                "params": {"B": B, "h": h, "n": n, "d_k": d, "block_size": block},
                "flops": 4 * B * h * n * n * d,
                "time_s": seconds,
                "times_s": [seconds],
                "gflops": 4 * B * h * n * n * d / seconds / 1e9,
                "dtype_ok": bool(
                    np.asarray(out[0] if isinstance(out, tuple) else out).dtype == dtype
                ),
                "peak_mib": peak_bytes / harness.MIB,
                "output_mib": B * h * n * d * itemsize / harness.MIB,
                "dense_weights_mib": B * h * n * n * itemsize / harness.MIB,
                "timing_note": "one call, traced by tracemalloc",
                "others_cpu_share": self.quiet.case_max,
            }
            peak = self.gemm_peak.get(rec["dtype"])
            rec["pct_peak"] = 100 * rec["gflops"] / peak if peak else None
            if torch is not None:
                tQ, tK, tV = (torch.from_numpy(a) for a in (Q, K, V))
                sdpa = torch.nn.functional.scaled_dot_product_attention
                with torch.no_grad():
                    tt = harness.median(
                        self.time(
                            {"torch": lambda: sdpa(tQ, tK, tV)},
                            warmup=False,
                            min_repeats=1,
                            max_repeats=1,
                        )["torch"]
                    )
                rec.update(
                    torch_time_s=tt, torch_times_s=[tt], ratio_torch=seconds / tt
                )
            rec["targets"] = [
                _target("peak extra memory <= 300 MiB", rec["peak_mib"], "<=", 300.0)
            ]
            self.records.append(rec)
            self.log(
                f"  blockwise {rec['dtype']} n={n}: {seconds:.1f} s, "
                f"peak {rec['peak_mib']:.0f} MiB "
                f"(dense weights alone: {rec['dense_weights_mib'] / 1024:.0f} GiB)"
            )

    # ---------------------------------------------------------- chapter sweeps

    def sweep_conv(self):
        """Loops vs Toeplitz vs im2col vs GEMM over image sizes, float32 (chapter 7)."""
        N, C, F = self.cfg.sweep_conv
        dtype = np.float32
        rows, naive_ok = [], True
        for H in self.cfg.sweep_hw:
            x, w = self.randn((N, C, H, H), dtype), self.randn((F, C, 3, 3), dtype)
            flops = 2 * N * F * H * H * C * 9
            A, Bm = self.randn((F, C * 9), dtype), self.randn((C * 9, N * H * H), dtype)
            fns = {
                "im2col": lambda: conv.conv2d(x, w, padding=1, algorithm="im2col"),
                "gemm": lambda: A @ Bm,
                "im2col_only": lambda: conv_columns_only(x),
            }
            T_mib = (F * H * H) * (C * H * H) * np.dtype(dtype).itemsize / harness.MIB
            T = None
            if T_mib <= self.cfg.sweep_toeplitz_max_mib:
                start = time.perf_counter()
                T = conv.toeplitz_matrix(w, (C, H, H), padding=1)  # (F H W, C H W)
                build_s = time.perf_counter() - start
                X = x.reshape(N, -1).T.copy()  # (C H W, N): the batch as columns
                fns["toeplitz"] = lambda: T @ X  # (F H W, C H W) @ (C H W, N)
            times = self.time(fns)
            row = {
                "H": H,
                "W": H,
                "N": N,
                "C": C,
                "F": F,
                "flops": flops,
                "toeplitz_mib": T_mib,
            }
            for name, ts in times.items():
                row[f"{name}_s"] = harness.median(ts)
            if T is not None:
                row["toeplitz_build_s"] = build_s
                del T
            if naive_ok:
                t = harness.median(
                    self.time(
                        {"loops": lambda: conv.conv2d_naive(x, w, padding=1)},
                        warmup=False,
                        min_repeats=1,
                        max_repeats=1,
                    )["loops"]
                )
                row["loops_s"] = t
                naive_ok = t < self.cfg.sweep_naive_max_s
            rows.append(row)
            self.log(
                "  H=W={:3d} {}".format(
                    H,
                    ", ".join(
                        f"{k[:-2]} {v * 1e3:.3g} ms"
                        for k, v in row.items()
                        if k.endswith("_s")
                    ),
                )
            )
        self.sweeps["conv"] = {
            "dtype": "float32",
            "kernel": "3x3, padding 1",
            "rows": rows,
        }

    def sweep_algorithms(self):
        """Where Winograd and the FFT start to beat im2col, float32 (chapter 7).

        Each row times `lalib.engine.conv` forward and forward+backward with im2col and
        with the other algorithm on the same data, interleaved, and records what
        ``choose_algorithm`` picks for that shape: the evidence for its thresholds.
        """
        dtype = np.float32
        shapes = []  # (other algorithm, N, C, H, K)
        N, H = self.cfg.sweep_winograd
        shapes += [("winograd", N, C, H, 3) for C in self.cfg.sweep_winograd_channels]
        N, C, sides = self.cfg.sweep_winograd_small
        shapes += [("winograd", N, C, H, 3) for H in sides]
        N, H = self.cfg.sweep_fft
        shapes += [
            ("fft", N, C, H, K)
            for C in self.cfg.sweep_fft_channels
            for K in self.cfg.sweep_fft_kernels
        ]
        rows = []
        for other, N, C, H, K in shapes:
            p = K // 2
            x, w = self.randn((N, C, H, H), dtype), self.randn((C, C, K, K), dtype)
            dout = self.randn((N, C, H, H), dtype)
            fns = {}
            for algorithm in ("im2col", other):

                def fwd(algorithm=algorithm, x=x, w=w, p=p):
                    return conv_engine.conv2d(x, w, None, 1, p, algorithm)

                def fwd_bwd(algorithm=algorithm, x=x, w=w, p=p, dout=dout):
                    out, cache = conv_engine.conv2d_forward(x, w, None, 1, p, algorithm)
                    return conv_engine.conv2d_backward(dout, cache)

                fns[f"{algorithm} forward"] = fwd
                fns[f"{algorithm} fwd+bwd"] = fwd_bwd
            times = self.time(fns)
            row = {"other": other, "N": N, "C": C, "F": C, "H": H, "W": H, "K": K}
            row["auto"] = conv_engine.choose_algorithm(x.shape, w.shape, 1, p, dtype)[0]
            row["times_s"] = {k: harness.median(v) for k, v in times.items()}
            rows.append(row)
            self.log(
                f"  {other:8s} N={N} C=F={C} {H}x{H} {K}x{K}: "
                + ", ".join(f"{k} {v * 1e3:.3g} ms" for k, v in row["times_s"].items())
                + f"; auto takes {row['auto']}"
            )
        self.sweeps["algorithms"] = {"dtype": "float32", "rows": rows}

    def sweep_attention(self):
        """Peak memory and time of dense vs blockwise attention as n grows, float32."""
        B, h, d = self.cfg.sweep_attention
        block = self.cfg.blockwise_block
        dtype = np.float32
        rows = []
        for n in self.cfg.sweep_attention_n:
            Q, K, V = (self.randn((B, h, n, d), dtype) for _ in range(3))

            def dense():
                return attention.scaled_dot_product_attention(Q, K, V)

            def blockwise():
                return attention_engine.attention_blockwise(Q, K, V, block_size=block)

            times = self.time({"dense": dense, "blockwise": blockwise})
            self.quiet.wait()
            row = {
                "n": n,
                "B": B,
                "h": h,
                "d_k": d,
                "block_size": block,
                "flops": 4 * B * h * n * n * d,
                "dense_s": harness.median(times["dense"]),
                "blockwise_s": harness.median(times["blockwise"]),
                "dense_peak_mib": harness.peak_memory(dense)[0] / harness.MIB,
                "blockwise_peak_mib": harness.peak_memory(blockwise)[0] / harness.MIB,
                "scores_mib": B * h * n * n * np.dtype(dtype).itemsize / harness.MIB,
            }
            rows.append(row)
            self.log(
                f"  n={n}: dense {row['dense_peak_mib']:.1f} MiB "
                f"{row['dense_s'] * 1e3:.3g} ms, "
                f"blockwise {row['blockwise_peak_mib']:.1f} MiB "
                f"{row['blockwise_s'] * 1e3:.3g} ms"
            )
        self.sweeps["attention_memory"] = {"dtype": "float32", "rows": rows}
