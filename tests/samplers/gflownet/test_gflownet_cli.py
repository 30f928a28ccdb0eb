"""`scientist learn --sampler gflownet`: train, checkpoint, resume and draw, from the shell."""

from typer.testing import CliRunner

from scientist import Posterior
from scientist.cli import app

runner = CliRunner()


def test_learn_with_a_gflownet_checkpoint_and_resume(tmp_path, gaussian4):
    csv = tmp_path / "d.csv"
    gaussian4.to_csv(csv)
    out, ck = tmp_path / "p.npz", tmp_path / "ck.pt"
    base = ["learn", str(csv), "--interventions-column", "interventions", "--sampler"]
    res = runner.invoke(
        app,
        [
            *base,
            "gflownet",
            "--budget",
            "2",
            "--samples",
            "300",
            "--seed",
            "0",
            "-o",
            str(out),
            "--checkpoint",
            str(ck),
        ],
    )
    assert res.exit_code == 0, res.output
    assert ck.exists() and "checkpoint written" in res.output
    first = Posterior.load(out)
    assert first.info["sampler"] == "gflownet"
    out2 = tmp_path / "p2.npz"
    res = runner.invoke(
        app,
        [
            *base,
            "gflownet",
            "--budget",
            "0",
            "--resume",
            str(ck),
            "--samples",
            "200",
            "-o",
            str(out2),
        ],
    )
    assert res.exit_code == 0, res.output
    assert Posterior.load(out2).info["train_steps"] == first.info["train_steps"]


def test_gflownet_options_need_the_gflownet_sampler(tmp_path, gaussian4):
    csv = tmp_path / "d.csv"
    gaussian4.to_csv(csv)
    res = runner.invoke(
        app,
        [
            "learn",
            str(csv),
            "--sampler",
            "exact",
            "--checkpoint",
            str(tmp_path / "c.pt"),
            "-o",
            str(tmp_path / "p.npz"),
        ],
    )
    assert res.exit_code == 2
    assert "add --sampler gflownet" in res.output
    assert not (tmp_path / "p.npz").exists()
    res = runner.invoke(
        app,
        [
            "learn",
            str(csv),
            "--interventions-column",
            "interventions",
            "--sampler",
            "gflownet",
            "--device",
            "tpu",
            "-o",
            str(tmp_path / "p.npz"),
        ],
    )
    assert res.exit_code == 2 and "device='tpu'" in res.output
