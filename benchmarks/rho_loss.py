"""RHO-LOSS and Goldilocks selection on Fashion-MNIST with noisy labels (issue 8).

Protocol (Mindermann et al., ICML 2022, section 4, at a CPU-sized budget): per seed, the 60k
training images are split in half at random: 30k training points, of which 10% get a label
redrawn uniformly from the 10 classes (about 9% end up wrong, since a redraw can land on the
true class), and 30k clean holdout points. The irreducible-loss model (same MLP) is trained on
the holdout only, then scores every training point once. An MLP (784-512-512-512-10, ReLU)
is trained with AdamW (lr 1e-3) for ``--steps`` gradient steps on n_b = 32 points chosen from
each big batch of n_B = 320 by RHO-LOSS, uniformly, or by highest loss; all three start from the
same weights and see the same big batches. Test accuracy (10k test images) every
``--eval-every`` steps.

Goldilocks: the sequences that RHO-LOSS and uniform selection chose with the MLP are replayed to
train a small CNN (conv 8 - conv 16 - fc 64) from the same initial weights.

Printed tables (mean ± standard deviation over seeds):

1. per method: final and best test accuracy, steps to reach uniform's best accuracy (the first
   evaluation at or above it; speed-up = uniform's steps to its best / the method's), the
   fraction of selected points whose label is wrong, and wall time relative to uniform;
2. Goldilocks: the CNN trained on the replayed sequences;
3. ``--sweep`` (meant for a GPU, ``--device cuda``): label noise 0% to 50%, the same per-method
   columns. The holdout is clean, so one irreducible-loss model per seed serves every level.

Usage::

    python benchmarks/rho_loss.py [--data DIR] [--seeds 3] [--steps 1500] [--eval-every 50]
    python benchmarks/rho_loss.py --sweep --device cuda --data DIR [--seeds 2] [--steps 2000]

The data are the four IDX files of Fashion-MNIST (``train-images-idx3-ubyte.gz``,
``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``),
read from ``--data``, else ``$FASHION_MNIST_DIR``, else ``/usr/share/datasets/fashion-mnist``
(Debian: ``apt-get install dataset-fashion-mnist``). With ``$OUT`` set, the tables are also
written to ``$OUT/rho_loss.md`` (``$OUT/rho_loss_sweep.md`` for the sweep).
"""

from __future__ import annotations

import argparse
import copy
import gzip
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from scientist.selection import (
    HighestLoss,
    RhoLoss,
    SelectionRecord,
    TensorBatches,
    Uniform,
    compute_irreducible_losses,
    train_with_selection,
)

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
N_BIG, N_SMALL, LR = 320, 32, 1e-3
METHODS = ("uniform", "rho-loss", "highest-loss")


# ---------------------------------------------------------------------------------- data
def read_idx(path: Path) -> np.ndarray:
    """One gzipped IDX file (LeCun's format: magic, dims, then unsigned bytes) as an array."""
    with gzip.open(path, "rb") as handle:
        raw = handle.read()
    magic = int.from_bytes(raw[:4], "big")
    if magic >> 8 != 0x08:  # 0x08 = unsigned byte
        raise SystemExit(f"{path}: not an unsigned-byte IDX file (magic {magic:#x}).")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise SystemExit(f"{path}: truncated ({data.size} bytes for shape {dims}).")
    return data.reshape(dims)


def load_fashion_mnist(folder: str | None) -> dict[str, torch.Tensor]:
    """Images as float32 (standardised with the training mean and sd), labels as int64."""
    where = Path(folder or os.environ.get("FASHION_MNIST_DIR") or DEFAULT_DIR)
    missing = [name for name in FILES.values() if not (where / name).is_file()]
    if missing:
        raise SystemExit(
            f"Fashion-MNIST not found in {where} (missing {', '.join(missing)}).\n"
            "Install it with:  sudo apt-get install -y dataset-fashion-mnist\n"
            f"(it goes to {DEFAULT_DIR}), or pass --data DIR / set FASHION_MNIST_DIR to a folder "
            "holding the four .gz IDX files."
        )
    arrays = {key: read_idx(where / name) for key, name in FILES.items()}
    x_train = torch.from_numpy(arrays["x_train"].reshape(-1, 784).astype(np.float32) / 255)
    x_test = torch.from_numpy(arrays["x_test"].reshape(-1, 784).astype(np.float32) / 255)
    mean, sd = x_train.mean(), x_train.std()
    return {
        "x_train": (x_train - mean) / sd,
        "y_train": torch.from_numpy(arrays["y_train"].astype(np.int64)),
        "x_test": (x_test - mean) / sd,
        "y_test": torch.from_numpy(arrays["y_test"].astype(np.int64)),
    }


@dataclass
class Split:
    """One seed's split: point indices into the 60k training images, and the noisy labels."""

    train: torch.Tensor
    holdout: torch.Tensor
    labels: torch.Tensor  # all 60k labels, the training points' redrawn with prob. `noise`
    wrong: torch.Tensor  # bool over the 60k: label differs from the true one


def split(data: dict[str, torch.Tensor], seed: int, noise: float) -> Split:
    g = torch.Generator().manual_seed(1000 + seed)
    n = len(data["y_train"])
    perm = torch.randperm(n, generator=g)
    train, holdout = perm[: n // 2], perm[n // 2 :]
    labels = data["y_train"].clone()
    redraw = train[torch.rand(len(train), generator=g) < noise]
    labels[redraw] = torch.randint(0, 10, (len(redraw),), generator=g)
    return Split(train, holdout, labels, labels != data["y_train"])


# ---------------------------------------------------------------------------------- models
def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(),
        nn.Linear(512, 512), nn.ReLU(),
        nn.Linear(512, 512), nn.ReLU(),
        nn.Linear(512, 10),
    )  # fmt: skip


class SmallCNN(nn.Module):
    """conv(8, 3x3) - pool - conv(16, 3x3) - pool - fc 64 - fc 10, on flat 784-vectors."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(16 * 49, 64), nn.ReLU(), nn.Linear(64, 10),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.view(-1, 1, 28, 28))


def test_accuracy(x: torch.Tensor, y: torch.Tensor) -> Callable[[nn.Module], float]:
    def evaluate(model: nn.Module) -> float:
        hits = sum(
            int((model(xb).argmax(1) == yb).sum())
            for xb, yb in zip(x.split(2000), y.split(2000), strict=True)
        )
        return hits / len(y)

    return evaluate


# ---------------------------------------------------------------------------------- runs
@dataclass
class Run:
    steps: list[int]
    acc: list[float]
    noisy: float
    seconds: float  # training (selection + steps), without the evaluations
    record: SelectionRecord | None = field(default=None, repr=False)

    @property
    def final(self) -> float:
        return self.acc[-1]

    @property
    def best(self) -> float:
        return max(self.acc)

    def steps_to(self, target: float) -> int | None:
        return next((s for s, a in zip(self.steps, self.acc, strict=True) if a >= target), None)


def fit_irreducible_model(data, sp: Split, device, epochs: int, seed: int):
    torch.manual_seed(seed)
    model = mlp().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    holdout = TensorBatches(
        data["x_train"][sp.holdout].to(device), data["y_train"][sp.holdout].to(device),
        128, indices=sp.holdout, seed=seed,
    )  # fmt: skip
    train_with_selection(
        model, opt, holdout, steps=epochs * len(holdout), progress=sys.stdout.isatty(),
        description="irreducible-loss model",
    )  # fmt: skip
    return model


def run_method(
    name: str, init: nn.Module, batches, selector, steps: int, eval_every: int, evaluate, wrong
) -> Run:
    model = copy.deepcopy(init)
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    eval_seconds = [0.0]

    def timed_evaluate(m: nn.Module) -> float:
        t0 = time.perf_counter()
        value = evaluate(m)
        eval_seconds[0] += time.perf_counter() - t0
        return value

    start = time.perf_counter()
    result = train_with_selection(
        model, opt, batches, selector, steps=steps, eval_fn=timed_evaluate,
        eval_every=eval_every, record=True, progress=sys.stdout.isatty(), description=name,
    )  # fmt: skip
    seconds = time.perf_counter() - start - eval_seconds[0]  # training time only
    assert result.record is not None
    xs, ys = result.curve("metric")
    noisy = float(wrong[result.record.indices()].float().mean())
    return Run(xs, ys, noisy, seconds, result.record)


def mlp_runs(data, sp: Split, irreducible, device, args, seed: int) -> dict[str, Run]:
    torch.manual_seed(10 + seed)
    init = mlp().to(device)
    x = data["x_train"].to(device)
    labels = sp.labels.to(device)
    evaluate = test_accuracy(data["x_test"].to(device), data["y_test"].to(device))
    selectors = {
        "uniform": Uniform(N_SMALL, seed=seed),
        "rho-loss": RhoLoss(irreducible, N_SMALL),
        "highest-loss": HighestLoss(N_SMALL),
    }
    runs = {}
    for name in METHODS:
        batches = TensorBatches(x[sp.train], labels[sp.train], N_BIG, indices=sp.train, seed=seed)
        runs[name] = run_method(
            name, init, batches, selectors[name], args.steps, args.eval_every, evaluate, sp.wrong
        )
    return runs


def irreducible_losses(data, sp: Split, il_model, device):
    batches = TensorBatches(
        data["x_train"][sp.train].to(device), sp.labels[sp.train].to(device), 2048,
        indices=sp.train, shuffle=False, drop_last=False,
    )  # fmt: skip
    return compute_irreducible_losses(il_model, batches, holdout_indices=sp.holdout)


# ---------------------------------------------------------------------------------- tables
def mean_sd(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.mean(values))} ± {fmt.format(statistics.stdev(values))}"


def method_rows(runs: list[dict[str, Run]], label: str = "") -> list[str]:
    """Rows of the per-method table over seeds (each seed: its own uniform's best)."""
    rows = []
    for name in runs[0]:
        finals = [100 * r[name].final for r in runs]
        bests = [100 * r[name].best for r in runs]
        reach, speedups = [], []
        for r in runs:
            target = r["uniform"].best
            uni = r["uniform"].steps_to(target)
            mine = r[name].steps_to(target)
            reach.append(mine)
            if mine is not None and uni is not None:
                speedups.append(uni / max(mine, 1))
        reached = [s for s in reach if s is not None]
        reach_txt = mean_sd(reached, "{:.0f}") if reached else "never"
        if 0 < len(reached) < len(reach):
            reach_txt += f" ({len(reached)}/{len(reach)} seeds)"
        speed = mean_sd(speedups, "{:.1f}") + "x" if speedups else "-"
        noisy = [100 * r[name].noisy for r in runs]
        wall = [r[name].seconds / r["uniform"].seconds for r in runs]
        rows.append(
            f"| {label}{name} | {mean_sd(finals)} | {mean_sd(bests)} | {reach_txt} | {speed} "
            f"| {mean_sd(noisy, '{:.1f}')} | {mean_sd(wall, '{:.1f}')}x |"
        )
    return rows


HEADER = (
    "| {first}method | final test acc % | best test acc % | steps to uniform's best | speed-up "
    "| wrong labels selected % | wall time / uniform |\n| {sep}--- | --- | --- | --- | --- | --- | --- |"
)


def emit(lines: list[str], name: str) -> None:
    text = "\n".join(lines)
    print(text, flush=True)
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / name).write_text(text + "\n")


# ---------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="folder with the four Fashion-MNIST .gz files")
    ap.add_argument("--seeds", type=int, default=None, help="seeds (default 3; sweep 2)")
    ap.add_argument(
        "--steps", type=int, default=None, help="gradient steps (default 1500; sweep 2000)"
    )
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--cnn-eval-every", type=int, default=250)
    ap.add_argument("--il-epochs", type=int, default=4, help="epochs of the irreducible-loss model")
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a busy machine)"
    )
    ap.add_argument("--sweep", action="store_true", help="label noise 0%%..50%% (for a GPU)")
    ap.add_argument("--no-goldilocks", action="store_true")
    args = ap.parse_args(argv)
    args.seeds = args.seeds or (2 if args.sweep else 3)
    args.steps = args.steps or (2000 if args.sweep else 1500)
    for flag in ("seeds", "steps", "eval_every", "cnn_eval_every", "il_epochs", "threads"):
        if getattr(args, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')}={getattr(args, flag)} is invalid: expected >= 1.")
    if not 0 <= args.noise <= 1:
        ap.error(f"--noise={args.noise} is invalid: expected a fraction in [0, 1].")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        ap.error(f"--device={args.device}: no CUDA GPU is visible to torch.")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    start = time.perf_counter()
    data = load_fashion_mnist(args.data)
    where = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU, {args.threads} thread(s)"
    )
    print(
        f"Fashion-MNIST, 30k train / 30k clean holdout / 10k test; MLP 784-512-512-512-10, AdamW "
        f"lr {LR:g}; n_B={N_BIG}, n_b={N_SMALL}; {args.steps} steps, test accuracy every "
        f"{args.eval_every}; irreducible-loss model {args.il_epochs} epochs on the holdout "
        f"(batch 128); {args.seeds} seed(s); {where}.\n",
        flush=True,
    )
    if args.sweep:
        sweep(data, device, args)
    else:
        single(data, device, args)
    print(f"\nTotal time: {time.perf_counter() - start:.0f} s")


def single(data, device, args) -> None:
    runs, cnn_runs, il_acc, wrong = [], [], [], []
    for seed in range(args.seeds):
        sp = split(data, seed, args.noise)
        wrong.append(100 * float(sp.wrong[sp.train].float().mean()))
        il_model = fit_irreducible_model(data, sp, device, args.il_epochs, seed)
        il_acc.append(
            test_accuracy(data["x_test"].to(device), data["y_test"].to(device))(il_model.eval())
        )
        il = irreducible_losses(data, sp, il_model, device)
        runs.append(mlp_runs(data, sp, il, device, args, seed))
        if not args.no_goldilocks:
            cnn_runs.append(goldilocks(data, sp, runs[-1], device, args, seed))
        print(f"seed {seed} done", file=sys.stderr, flush=True)
    lines = [
        f"Label noise {100 * args.noise:.0f}% redrawn ({mean_sd(wrong, '{:.1f}')}% of training "
        f"labels wrong); irreducible-loss model test accuracy {mean_sd([100 * a for a in il_acc])}%.",
        "",
        "MLP, test accuracy against gradient steps (mean ± sd over seeds):",
        "",
        HEADER.format(first="", sep=""),
        *method_rows(runs),
    ]
    if cnn_runs:
        lines += [
            "",
            "Goldilocks: the sequences selected with the MLP, replayed to train a small CNN:",
            "",
            HEADER.format(first="", sep="").replace("method", "sequence"),
            *method_rows(cnn_runs),
        ]
    lines += ["", "Test accuracy of the MLP by step (mean over seeds):", "", *curve_table(runs)]
    emit(lines, "rho_loss.md")


def goldilocks(data, sp: Split, runs: dict[str, Run], device, args, seed: int) -> dict[str, Run]:
    torch.manual_seed(20 + seed)
    init = SmallCNN().to(device)
    x, labels = data["x_train"].to(device), sp.labels.to(device)
    evaluate = test_accuracy(data["x_test"].to(device), data["y_test"].to(device))
    out = {}
    for name in ("uniform", "rho-loss"):
        record = runs[name].record
        assert record is not None
        out[name] = run_method(
            f"CNN on {name}", init, record.batches(x, labels), None, args.steps,
            args.cnn_eval_every, evaluate, sp.wrong,
        )  # fmt: skip
    return out


def curve_table(runs: list[dict[str, Run]]) -> list[str]:
    steps = runs[0]["uniform"].steps
    marks = sorted(
        {s for s in steps if s in (0, 50, 100, 200, 300, 500) or s % 250 == 0} | {steps[-1]}
    )
    names = list(runs[0])
    lines = ["| step | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for s in marks:
        k = steps.index(s)
        cells = [f"{100 * statistics.mean(r[n].acc[k] for r in runs):.2f}" for n in names]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return lines


def sweep(data, device, args) -> None:
    levels = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
    by_level: dict[float, list[dict[str, Run]]] = {lv: [] for lv in levels}
    for seed in range(args.seeds):
        clean = split(data, seed, 0.0)
        il_model = fit_irreducible_model(data, clean, device, args.il_epochs, seed)
        for level in levels:
            sp = split(data, seed, level)
            il = irreducible_losses(data, sp, il_model, device)
            by_level[level].append(mlp_runs(data, sp, il, device, args, seed))
            print(f"seed {seed} noise {level:.1f} done", file=sys.stderr, flush=True)
    lines = [
        "Label-noise sweep (fraction of training labels redrawn uniformly):",
        "",
        HEADER.format(first="noise | ", sep="--- | "),
    ]
    for level in levels:
        lines += method_rows(by_level[level], label=f"{100 * level:.0f}% | ")
    emit(lines, "rho_loss_sweep.md")


if __name__ == "__main__":
    main()
