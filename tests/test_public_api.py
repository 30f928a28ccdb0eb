"""The public API: ``__all__`` lists exactly the public names."""

import scientist


def test_all_matches_public_names():
    public = {n for n in dir(scientist) if not n.startswith("_")}
    modules = {
        "data",
        "errors",
        "graphs",
        "posterior",
        "priors",
        "scores",
        "theory",
        "world",
        "samplers",
        "progress",
        "monitors",
        "cli",
        "plotting",
    }
    assert set(scientist.__all__) == public - modules
    for name in scientist.__all__:
        assert getattr(scientist, name) is not None
