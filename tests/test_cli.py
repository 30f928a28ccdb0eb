"""The command line, run in-process with Typer's runner."""

import json

import numpy as np
from typer.testing import CliRunner

from scientist.cli import app

runner = CliRunner()


def test_learn_and_edges(tmp_path, gaussian4):
    csv = tmp_path / "d.csv"
    gaussian4.to_csv(csv)
    out = tmp_path / "p.npz"
    res = runner.invoke(
        app,
        [
            "learn",
            str(csv),
            "--interventions-column",
            "interventions",
            "--sampler",
            "structure-mcmc",
            "--samples",
            "300",
            "--chains",
            "2",
            "--seed",
            "1",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert out.exists()
    res = runner.invoke(app, ["edges", str(out), "--json"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)
    assert body["variables"] == gaussian4.names
    m = np.array(body["edge_marginals"])
    assert m.shape == (4, 4) and np.all(np.diag(m) == 0)
    res = runner.invoke(app, ["describe", str(out), "--top", "1"])
    assert res.exit_code == 0 and "#1" in res.output


def test_user_mistakes_give_one_line_errors(tmp_path):
    res = runner.invoke(
        app, ["learn", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "p.npz")]
    )
    assert res.exit_code == 2
    assert "no such file" in res.output and "Traceback" not in res.output
    bad = tmp_path / "bad.npz"
    bad.write_text("garbage")
    res = runner.invoke(app, ["edges", str(bad)])
    assert res.exit_code == 2 and "not a scientist posterior" in res.output
    csv = tmp_path / "d.csv"
    csv.write_text("a,b\n1,x\n2,y\n")
    res = runner.invoke(app, ["learn", str(csv), "--score", "bge", "-o", str(tmp_path / "p.npz")])
    assert res.exit_code == 2 and "bdeu" in res.output
    assert not (tmp_path / "p.npz").exists()


def test_demo_writes_heatmap(tmp_path):
    res = runner.invoke(app, ["demo", "--out", str(tmp_path), "--samples", "300"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "sachs_edge_marginals.png").stat().st_size > 10000
    assert "AUROC" in res.output


def test_theory_and_ask(tmp_path):
    out = tmp_path / "asia.npz"
    res = runner.invoke(app, ["theory", "asia", "-o", str(out)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["ask", str(out), "P(dysp=yes | do(smoke=yes))", "--json"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)
    assert 0 < body["mean"] < 1 and body["n_theories"] == 1
    res = runner.invoke(app, ["ask", str(out), "E[dysp]"])
    assert res.exit_code == 2 and "continuous target" in res.output
    res = runner.invoke(
        app, ["ask", str(out), "P(dysp=yes | do(smoke=maybe))"], env={"COLUMNS": "2000"}
    )
    assert res.exit_code == 2 and "['yes', 'no']" in res.output
    res = runner.invoke(app, ["theory", "nope", "-o", str(out)])
    assert res.exit_code == 2 and "alarm" in res.output
