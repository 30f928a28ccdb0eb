"""The README's Python examples run as written."""

import re
from pathlib import Path


def test_readme_tour_runs(tmp_path, monkeypatch):
    text = (Path(__file__).parents[1] / "README.md").read_text()
    code = "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert (tmp_path / "asia.npz").exists()
    assert namespace["post"].n_theories >= 1
    assert namespace["exact"].weighting == "exact"
