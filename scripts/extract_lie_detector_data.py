"""Extract the lie-detector data shipped in ``src/scientist/monitors/data/``.

Reads a byte-for-byte snapshot of the LLM-LieDetector repository (Pacchiardi et al., ICLR 2024;
https://github.com/LoryPack/LLM-LieDetector, commit c5689fa2615368cd7c3f3c15dbb60ea2126006c7),
checks every file it reads against the snapshot's ``SHA256SUMS``, and writes:

- ``probes.csv``: the 65 elicitation questions, copied byte for byte from ``data/probes.csv``;
- ``probe_groups.json``: the paper's three probe groups (from ``results/probes_groups/*.npy``);
- ``features.npz``: for GPT-3.5 (``text-davinci-003``), Alpaca and Vicuna, the 65-long
  log P(yes) - log P(no) vectors of every question that has both a lie and a truthful answer
  (the repository's ``get_logprobs_differences``), in the source row order.

Usage (from the repository root)::

    python scripts/extract_lie_detector_data.py --source ../shared/data/lie_detector

The output is deterministic: running it twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

# Processed question sets, in the order of the repository's training notebook
# (classification_notebooks/train_classifiers_on_prompted_GPT_3.5.ipynb), without the five sets
# whose files the snapshot lacks (wikidata, commonsense_QA_v2_dev, tatoeba x2, sciq).
DATASETS = {
    "synthetic_facts": "synthetic_facts_all.json",
    "questions_1000": "questions_1000_all.json",
    "mathematical_problems": "mathematical_problems.json",
    "anthropic_awareness_ai": "anthropic_awareness_ai.json",
    "anthropic_awareness_architecture": "anthropic_awareness_architecture.json",
    "anthropic_awareness_nn_architecture": "anthropic_awareness_nn_architecture.json",
}
MODELS = ("text-davinci-003", "alpaca", "vicuna")
# The paper's names for the probe groups -> the repository's file names.
GROUP_FILES = {
    "lie": "lie_indices.npy",
    "factual": "knowable_indices.npy",
    "ambiguous": "no_lie_indices.npy",
}
N_PROBES = 65


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _checked(source: Path, relative: str, sums: dict[str, str]) -> Path:
    path = source / relative
    expected = sums.get(relative)
    if expected is None:
        raise SystemExit(f"{relative} is not listed in {source / 'SHA256SUMS'}")
    if _sha256(path) != expected:
        raise SystemExit(f"{path} does not match its SHA256SUMS entry: the snapshot was changed")
    return path


def _read_sums(source: Path) -> dict[str, str]:
    sums = {}
    for line in (source / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.removeprefix("./")] = digest
    return sums


def _features(source: Path, sums: dict[str, str]) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {"datasets": np.array(list(DATASETS), dtype="U64")}
    frames = {
        name: pd.read_json(_checked(source, f"data/processed_questions/{file}", sums))
        for name, file in DATASETS.items()
    }
    for model in MODELS:
        lies, truths, codes, rows = [], [], [], []
        for code, (_name, df) in enumerate(frames.items()):
            lie_col = f"{model}_logprobs_difference_lie"
            truth_col = f"{model}_logprobs_difference_truth"
            if lie_col not in df.columns:
                continue  # synthetic_facts has no Alpaca / Vicuna columns
            both = df[df[lie_col].notna() & df[truth_col].notna()]
            lie = np.array(both[lie_col].tolist(), dtype=np.float64)
            truth = np.array(both[truth_col].tolist(), dtype=np.float64)
            if lie.shape != (len(both), N_PROBES) or truth.shape != lie.shape:
                raise SystemExit(f"{model}/{_name}: expected {N_PROBES} features per answer")
            if not (np.isfinite(lie).all() and np.isfinite(truth).all()):
                raise SystemExit(f"{model}/{_name}: non-finite features")
            lies.append(lie)
            truths.append(truth)
            codes.append(np.full(len(both), code, dtype=np.int8))
            rows.append(both.index.to_numpy(dtype=np.int32))
        arrays[f"{model}.lie"] = np.concatenate(lies)
        arrays[f"{model}.truth"] = np.concatenate(truths)
        arrays[f"{model}.dataset"] = np.concatenate(codes)
        arrays[f"{model}.source_row"] = np.concatenate(rows)
    return arrays


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a compressed .npz with fixed timestamps, so the bytes are reproducible."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buffer.getvalue(), compresslevel=9)


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=root / ".." / "shared/data/lie_detector")
    parser.add_argument("--out", type=Path, default=root / "src/scientist/monitors/data")
    args = parser.parse_args()
    source: Path = args.source
    out: Path = args.out
    sums = _read_sums(source)

    probes = _checked(source, "data/probes.csv", sums).read_bytes()
    if len(pd.read_csv(io.BytesIO(probes))) != N_PROBES:
        raise SystemExit(f"data/probes.csv should have {N_PROBES} probes")
    (out / "probes.csv").write_bytes(probes)

    groups = {
        name: [int(i) for i in np.load(_checked(source, f"results/probes_groups/{f}", sums))]
        for name, f in GROUP_FILES.items()
    }
    document = {
        "format": "scientist.lie_detector.probe_groups",
        "version": 1,
        "n_probes": N_PROBES,
        "groups": groups,
        "source_files": {name: f"results/probes_groups/{f}" for name, f in GROUP_FILES.items()},
    }
    (out / "probe_groups.json").write_text(json.dumps(document, indent=1) + "\n")

    arrays = _features(source, sums)
    _write_npz(out / "features.npz", arrays)

    for name in ("probes.csv", "probe_groups.json", "features.npz"):
        path = out / name
        print(f"{_sha256(path)}  {name}  ({path.stat().st_size} bytes)")
    for model in MODELS:
        codes = arrays[f"{model}.dataset"]
        counts = {n: int((codes == c).sum()) for c, n in enumerate(DATASETS) if (codes == c).any()}
        print(model, len(codes), "pairs", counts)


if __name__ == "__main__":
    main()
