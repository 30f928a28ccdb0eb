"""``scientist.selection.__all__`` lists exactly its public names, each documented."""

import inspect

from scientist import selection


def test_all_matches_public_names_and_each_has_a_docstring():
    public = {
        n
        for n in dir(selection)
        if not n.startswith("_") and not inspect.ismodule(getattr(selection, n))
    }
    assert set(selection.__all__) == public
    for name in selection.__all__:
        assert inspect.getdoc(getattr(selection, name)), name
