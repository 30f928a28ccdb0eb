"""`scientist lie-detector ...` through Typer's runner: results, and errors without tracebacks."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from scientist.cli import app
from scientist.monitors import LieDetector, load_lie_detector_data

runner = CliRunner()


def run(*args):
    result = runner.invoke(app, ["lie-detector", *map(str, args)], env={"COLUMNS": "2000"})
    # undo Rich's error box: drop its border characters, join the wrapped lines
    text = re.sub(r"[│╭╮╰╯─]", " ", result.output)
    return result, re.sub(r"\s+", " ", text)


def assert_clear_error(result, output, *words):
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    for word in words:
        assert word in output, (word, output)


@pytest.fixture(scope="module")
def data():
    return load_lie_detector_data()


@pytest.fixture
def trained(tmp_path):
    path = tmp_path / "detector.json"
    result, output = run("train", "--model", "text-davinci-003", "-o", path)
    assert result.exit_code == 0, output
    return path


def write_csv(path, rows, header=False):
    lines = [",".join(f"p{i}" for i in range(len(rows[0])))] if header else []
    lines += [",".join(repr(float(v)) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_writes_a_loadable_detector(trained, data):
    assert json.loads(trained.read_text())["format"] == "scientist.lie_detector"
    detector = LieDetector.load(trained)
    direct = LieDetector().fit(data.X, data.is_lie)
    np.testing.assert_allclose(detector.predict_proba(data.X), direct.predict_proba(data.X))


def test_train_options(tmp_path, data):
    path = tmp_path / "d.json"
    result, output = run(
        "train", "--model", "alpaca", "--groups", "lie, factual", "--features", "binary", "-o", path
    )
    assert result.exit_code == 0, output
    assert "287 alpaca question pairs" in output
    detector = LieDetector.load(path)
    assert detector.groups == ("lie", "factual") and detector.features == "binary"


def test_score_prints_probabilities(tmp_path, trained, data):
    features = write_csv(tmp_path / "f.csv", data.X[:4], header=True)
    result, output = run("score", trained, features)
    assert result.exit_code == 0, output
    expected = LieDetector.load(trained).predict_proba(data.X[:4])
    for p in expected:
        assert f"{p:.4f}" in output


def test_score_writes_csv(tmp_path, trained, data):
    features = write_csv(tmp_path / "f.csv", data.X[:3])
    out = tmp_path / "scores.csv"
    result, output = run("score", trained, features, "-o", out)
    assert result.exit_code == 0, output
    lines = out.read_text().splitlines()
    assert lines[0] == "row,p_lie" and len(lines) == 4
    got = [float(line.split(",")[1]) for line in lines[1:]]
    np.testing.assert_allclose(got, LieDetector.load(trained).predict_proba(data.X[:3]))


def test_probes_lists_65_questions():
    result, output = run("probes")
    assert result.exit_code == 0
    assert "Is Venezuela located in Asia?" in output and " 64 " in output


def test_unknown_model(tmp_path):
    result, output = run("train", "--model", "gpt-4", "-o", tmp_path / "d.json")
    assert_clear_error(result, output, "--model", "'gpt-4'", "text-davinci-003")
    assert not (tmp_path / "d.json").exists()


def test_unknown_group(tmp_path):
    result, output = run("train", "--groups", "lie,facts", "-o", tmp_path / "d.json")
    assert_clear_error(result, output, "--groups", "'facts'", "lie, factual, ambiguous")


def test_unknown_features(tmp_path):
    result, output = run("train", "--features", "probs", "-o", tmp_path / "d.json")
    assert_clear_error(result, output, "--features", "'probs'", "'binary'")


def test_output_folder_missing(tmp_path):
    result, output = run("train", "-o", tmp_path / "no" / "d.json")
    assert_clear_error(result, output, "--output", "does not exist")


def test_missing_detector_file(tmp_path, data):
    features = write_csv(tmp_path / "f.csv", data.X[:1])
    result, output = run("score", tmp_path / "missing.json", features)
    assert_clear_error(result, output, "DETECTOR", "missing.json", "lie-detector train")


def test_corrupt_detector_file(tmp_path, data):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    features = write_csv(tmp_path / "f.csv", data.X[:1])
    result, output = run("score", bad, features)
    assert_clear_error(result, output, "DETECTOR", "not a lie-detector file")


def test_missing_features_file(tmp_path, trained):
    result, output = run("score", trained, tmp_path / "nope.csv")
    assert_clear_error(result, output, "FEATURES", "nope.csv", "65 numeric columns")


def test_wrong_number_of_columns(tmp_path, trained, data):
    features = write_csv(tmp_path / "f.csv", data.X[:2, :64])
    result, output = run("score", trained, features)
    assert_clear_error(result, output, "FEATURES", "line 1 has 64 columns", "expected 65")


def test_non_numeric_values(tmp_path, trained):
    path = tmp_path / "f.csv"
    header = ",".join(f"q{i}" for i in range(65))
    path.write_text("\n".join([header, ",".join(["1"] * 65), ",".join(["0.5"] * 64 + ["yes"])]))
    result, output = run("score", trained, path)
    assert_clear_error(result, output, "FEATURES", "line 3", "'yes'", "not numbers")
    # a first line with some numbers is data, not a header, so it is not skipped silently
    path.write_text(",".join(["0.5"] * 64 + ["nan"]) + "\n" + ",".join(["1"] * 65) + "\n")
    result, output = run("score", trained, path)
    assert_clear_error(result, output, "FEATURES", "line 1", "'nan'")


def test_empty_features_file(tmp_path, trained):
    path = tmp_path / "f.csv"
    path.write_text("")
    result, output = run("score", trained, path)
    assert_clear_error(result, output, "FEATURES", "no data rows")
