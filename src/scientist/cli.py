"""The ``scientist`` command line: thin wrappers over the library, printed with Rich."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from scientist.cli_errors import friendly
from scientist.data import Dataset
from scientist.errors import InputError
from scientist.posterior import Posterior

app = typer.Typer(
    name="scientist",
    help="A non-agentic Scientist AI: learn causal theories, ask questions, guard actions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
F = TypeVar("F", bound=Callable[..., Any])


# sub-command groups are registered below
from scientist.monitors.cli import app as _lie_detector_app  # noqa: E402

app.add_typer(_lie_detector_app, name="lie-detector")
from scientist.service.cli import keys_app as _keys_app  # noqa: E402
from scientist.service.cli import serve as _serve  # noqa: E402

app.add_typer(_keys_app, name="keys")
app.command("serve")(_serve)


def edge_table(posterior: Posterior, threshold: float = 0.0, limit: int = 30) -> Table:
    """The most probable edges as a Rich table."""
    marg = posterior.edge_marginals()
    names = posterior.names
    rows = sorted(
        (
            (marg[i, j], names[i], names[j])
            for i in range(len(names))
            for j in range(len(names))
            if i != j
        ),
        reverse=True,
    )
    table = Table(title=f"Edge marginals P(parent -> child | data), top {limit}")
    table.add_column("parent")
    table.add_column("child")
    table.add_column("P", justify="right")
    for p, a, b in rows[:limit]:
        if p >= threshold:
            table.add_row(a, b, f"{p:.3f}")
    return table


def print_summary(posterior: Posterior, top: int) -> None:
    """Top theories and the edge table."""
    console.print(posterior.describe(top), highlight=False, markup=False, soft_wrap=True)
    console.print(edge_table(posterior))
    info = posterior.info
    if info.get("max_rhat") is not None:
        ok = "converged" if info["max_rhat"] < 1.1 else "NOT converged: run longer"
        console.print(f"max split R-hat over edges: {info['max_rhat']:.3f} ({ok})")


@app.command()
@friendly
def learn(
    data: Annotated[Path, typer.Argument(help="CSV file, one column per variable.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the posterior (.npz).")
    ],
    score: Annotated[
        str, typer.Option(help="auto, bge (continuous) or bdeu (categorical).")
    ] = "auto",
    sampler: Annotated[
        str, typer.Option(help="auto, exact, order-mcmc, structure-mcmc or gflownet.")
    ] = "auto",
    samples: Annotated[int, typer.Option(help="DAG samples per chain.")] = 5000,
    chains: Annotated[int, typer.Option(help="Independent chains.")] = 4,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    interventions_column: Annotated[
        str | None,
        typer.Option(help="Column listing each row's intervened variables, ';'-separated."),
    ] = None,
    categorical: Annotated[
        str | None, typer.Option(help="Comma-separated numeric columns to treat as categorical.")
    ] = None,
    standardize: Annotated[
        bool, typer.Option(help="Scale continuous columns to unit variance.")
    ] = False,
    max_parents: Annotated[int | None, typer.Option(help="Maximum in-degree.")] = None,
    top: Annotated[int, typer.Option(help="Theories to print.")] = 3,
    budget: Annotated[
        float, typer.Option(help="gflownet: seconds of training (0 with --resume: draw only).")
    ] = 60.0,
    device: Annotated[str, typer.Option(help="gflownet: cpu, cuda or auto.")] = "cpu",
    checkpoint: Annotated[
        Path | None, typer.Option(help="gflownet: write the trained sampler here.")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="gflownet: start from this checkpoint.")
    ] = None,
    executor: Annotated[
        str,
        typer.Option(
            help="Where chains run: local, or ray (one Ray task per chain; $RAY_ADDRESS picks "
            "the cluster; needs scientist-ai[ray])."
        ),
    ] = "local",
) -> None:
    """Learn a posterior over causal theories from DATA and save it.

    With --sampler gflownet, a DAG-GFlowNet is trained for --budget seconds and SAMPLES
    theories are drawn from it; --checkpoint saves the sampler, --resume continues from one.
    """
    from scientist.world import WorldModel

    if (checkpoint or resume) and sampler != "gflownet":
        raise InputError(
            f"--checkpoint and --resume belong to a GFlowNet, not sampler={sampler!r}: "
            "add --sampler gflownet."
        )
    cats = [c.strip() for c in categorical.split(",")] if categorical else None
    ds = Dataset.from_csv(data, interventions_column=interventions_column, categorical=cats)
    if standardize:
        ds = ds.standardize()
    console.print(f"{ds} from {data}")
    wm = WorldModel(
        score=score,
        sampler=sampler,
        n_samples=samples,
        n_chains=chains,
        seed=seed,
        max_parents=max_parents,
        executor=executor,
        budget=budget,
        device=device,
        checkpoint=resume,
        progress=sys.stderr.isatty(),
    ).fit(ds)
    post = wm.posterior_
    if checkpoint is not None:
        wm.gflownet_.save(checkpoint)
        console.print(f"sampler checkpoint written to {checkpoint}")
    post.save(output)
    print_summary(post, top)
    console.print(f"posterior written to {output} ({wm.fit_seconds_:.1f} s)")


@app.command()
@friendly
def edges(
    posterior: Annotated[Path, typer.Argument(help="A posterior file written by `learn`.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON: variables and the d x d matrix.")
    ] = False,
) -> None:
    """Print the edge marginals of a posterior (entry [i][j] = P(i -> j))."""
    post = Posterior.load(posterior)
    if as_json:
        out = {
            "variables": post.names,
            "edge_marginals": post.edge_marginals().round(6).tolist(),
            "weighting": post.weighting,
        }
        typer.echo(json.dumps(out))
    else:
        console.print(edge_table(post, limit=len(post.names) ** 2))


@app.command()
@friendly
def describe(
    posterior: Annotated[Path, typer.Argument(help="A posterior file written by `learn`.")],
    top: Annotated[int, typer.Option(help="Theories to describe.")] = 3,
) -> None:
    """Describe the most probable theories of a posterior in plain words."""
    console.print(
        Posterior.load(posterior).describe(top), highlight=False, markup=False, soft_wrap=True
    )


@app.command()
@friendly
def ask(
    posterior: Annotated[
        Path, typer.Argument(help="A posterior file written by `learn` or `theory`.")
    ],
    query: Annotated[
        str, typer.Argument(help="e.g. 'P(Y=1 | do(X=0), Z=1)', 'E[Y | do(X=2)]', 'P(X -> Y)'.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the parameter draws.")] = 0,
    level: Annotated[float, typer.Option(help="Mass of the credible interval.")] = 0.9,
    draws: Annotated[
        int, typer.Option(help="Parameter draws per theory (0: point parameters).")
    ] = 32,
) -> None:
    """Answer a causal question by averaging over the posterior's theories."""
    from scientist.infer import ask as ask_query

    answer = ask_query(Posterior.load(posterior), query, seed=seed, level=level, n_draws=draws)
    if as_json:
        typer.echo(answer.to_json())
    else:
        console.print(str(answer), highlight=False, markup=False, soft_wrap=True)


@app.command()
@friendly
def theory(
    name: Annotated[
        str, typer.Argument(help="A bundled network: asia, sachs, child, insurance, alarm.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the posterior (.npz).")
    ],
) -> None:
    """Write a one-theory posterior (point parameters) from a bundled network, to query it."""
    from scientist import datasets

    post = Posterior.from_theories([datasets.load_network(name)])
    post.save(output)
    console.print(f"wrote {output}: the {name} network, {len(post.names)} variables, one theory")


@app.command()
@friendly
def guard(
    posterior: Annotated[
        Path, typer.Argument(help="A posterior file written by `learn` or `theory`.")
    ],
    spec: Annotated[Path, typer.Option(help="The harm specification (YAML).")],
    action: Annotated[str, typer.Option(help="The proposed action, e.g. 'do(X=1)'.")],
    context: Annotated[str, typer.Option(help="What is observed, e.g. 'Z=0, W=1'.")] = "",
    threshold: Annotated[float, typer.Option(help="Largest acceptable P(harm).")] = 0.01,
    rule: Annotated[
        str, typer.Option(help="posterior_predictive, prop33, prop45 or credible.")
    ] = "prop45",
    alpha: Annotated[float, typer.Option(help="Plausibility level of Prop 4.5.")] = 0.01,
    db: Annotated[str, typer.Option(help="Audit store (SQLAlchemy URL).")] = "sqlite:///audit.db",
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Judge an agent's proposed action; exit code 0 allow, 3 block, 4 escalate."""
    from scientist.guard import Guard

    g = Guard(
        Posterior.load(posterior), str(spec), threshold=threshold, rule=rule, alpha=alpha, audit=db
    )
    verdict = g.decide(action, context or None)
    if as_json:
        typer.echo(verdict.to_json())
    else:
        console.print(verdict.explain(), highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit({"allow": 0, "block": 3, "escalate": 4}[verdict.decision])


audit_app = typer.Typer(help="Read the guard's audit store.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("tail")
@friendly
def audit_tail(
    db: Annotated[str, typer.Option(help="Audit store (SQLAlchemy URL).")] = "sqlite:///audit.db",
    limit: Annotated[int, typer.Option("--limit", "-n", help="Records to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Show the latest guard decisions."""
    from scientist.guard import AuditStore

    records = AuditStore(db).tail(limit)
    if as_json:
        for r in records:
            typer.echo(json.dumps(r))
        return
    table = Table(title=f"Last {len(records)} decisions in {db}")
    for col in ("id", "time", "decision", "action", "context", "rule", "estimate", "threshold"):
        table.add_column(col)
    for r in records:
        est = "" if r["estimate"] is None else f"{r['estimate']:.4g}"
        table.add_row(
            str(r["id"]),
            r["time"][:19],
            r["decision"],
            r["action"],
            r["context"],
            r["rule"],
            est,
            f"{r['threshold']:g}",
        )
    console.print(table)


@app.command()
@friendly
def design(
    posterior: Annotated[Path, typer.Argument(help="A posterior file written by `learn`.")],
    candidates: Annotated[
        str,
        typer.Option(
            help="Comma-separated experiments: X (values spread over X's states), X=x, or X=*"
            " (do(X=x) for every state x of a categorical X)."
        ),
    ],
    target: Annotated[
        str | None,
        typer.Option(
            help="A query (rank by information about its answer) or 'edges' (about each edge)."
        ),
    ] = None,
    samples: Annotated[int, typer.Option(help="Rows per experiment.")] = 20,
    batch: Annotated[int, typer.Option(help="Pick this many experiments greedily.")] = 1,
    repeats: Annotated[
        bool,
        typer.Option(
            "--repeats/--distinct",
            help="Let a batch pick an experiment more than once (more rows where they teach most).",
        ),
    ] = False,
    outer: Annotated[int, typer.Option(help="Monte-Carlo outcomes per experiment.")] = 128,
    parameters: Annotated[
        str, typer.Option(help="'integrated' (posterior predictive) or 'mean' (plug-in).")
    ] = "integrated",
    seed: Annotated[int, typer.Option(help="Seed of the simulations.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recommend the experiments with the largest expected information gain (runs nothing)."""
    from scientist.design import suggest, to_json

    ranked = suggest(
        Posterior.load(posterior),
        [c.strip() for c in candidates.split(",") if c.strip()],
        target=target,
        n_samples=samples,
        batch=batch,
        repeats=repeats,
        n_outer=outer,
        parameters=parameters,
        seed=seed,
    )
    if as_json:
        typer.echo(to_json(ranked))
        return
    for i, e in enumerate(ranked, 1):
        console.print(f"{i}. {e}", highlight=False, markup=False, soft_wrap=True)


@app.command()
@friendly
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the posterior and the heatmap.")] = Path(
        "demo-output"
    ),
    samples: Annotated[int, typer.Option(help="DAG samples per chain.")] = 10000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Learn on the bundled Sachs et al. (2005) data and show what the world model believes."""
    from sklearn.metrics import roc_auc_score

    from scientist import datasets
    from scientist.plotting import plot_edge_marginals
    from scientist.world import WorldModel

    out.mkdir(parents=True, exist_ok=True)
    data = datasets.load_sachs(standardize=True)
    console.print(
        f"Sachs et al. (2005) flow cytometry: {data}, standardised; BGe score, order MCMC"
    )
    wm = WorldModel(
        score="bge",
        sampler="order_mcmc",
        n_samples=samples,
        n_chains=4,
        seed=seed,
        thin=5,
        progress=True,
    ).fit(data)
    post = wm.posterior_
    print_summary(post, 2)
    truth = datasets.sachs_consensus()
    marg = post.edge_marginals()
    off = ~np.eye(len(truth), dtype=bool)
    auroc = roc_auc_score(truth[off], marg[off])
    skeleton = roc_auc_score((truth | truth.T)[off], (marg + marg.T)[off])
    console.print(
        f"AUROC of edge marginals against the consensus network: directed {auroc:.3f}, "
        f"undirected {skeleton:.3f}"
    )
    post.save(out / "sachs_posterior.npz")
    png = plot_edge_marginals(
        post,
        out / "sachs_edge_marginals.png",
        truth=truth,
        title="Sachs: P(parent -> child | data); red = consensus edge",
    )
    console.print(f"wrote {out / 'sachs_posterior.npz'} and {png} in {wm.fit_seconds_:.1f} s")


def main() -> None:
    """Entry point of the console script."""
    app()
