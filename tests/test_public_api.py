"""The public API: ``__all__`` lists exactly the public names."""

import inspect

import scientist


def test_all_matches_public_names():
    public = {
        n
        for n in dir(scientist)
        if not n.startswith("_")
        and (not inspect.ismodule(getattr(scientist, n)) or n == "datasets")
    }
    assert set(scientist.__all__) == public
    for name in scientist.__all__:
        assert getattr(scientist, name) is not None
