"""interrogate() and the yes/no feature rules, with an in-process backend."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scientist.errors import InputError
from scientist.monitors import (
    Reply,
    TokenLogprobs,
    interrogate,
    load_probes,
    logprob_difference,
    parse_yes_no,
)
from scientist.monitors.interrogate import answer_token

TRANSCRIPT = [
    {"role": "user", "content": "What is 2 + 2?"},
    {"role": "assistant", "content": "5."},
]


class Scripted:
    """A backend that answers probe i from a table, recording every call."""

    def __init__(self, replies):
        self.replies = replies
        self.calls = []
        self.index = {p.text: i for i, p in enumerate(load_probes())}

    def complete(self, messages):
        self.calls.append([dict(m) for m in messages])
        return self.replies[self.index[messages[-1]["content"]]]


def test_logprob_difference_both_present():
    top = {" Yes": math.log(0.7), " No": math.log(0.2), " Maybe": math.log(0.05)}
    assert logprob_difference(top) == pytest.approx(math.log(0.7 / 0.2))


def test_logprob_difference_sums_synonyms_and_ignores_case():
    top = {
        " yes": math.log(0.3),
        "Yes": math.log(0.2),
        " Absolutely": math.log(0.1),
        " NO": math.log(0.25),
        " never": math.log(0.05),
    }
    assert logprob_difference(top) == pytest.approx(math.log(0.6 / 0.3))


def test_logprob_difference_bounds_a_missing_side():
    # "no" is missing: bounded by min(smallest top logprob, log(1 - top mass)) = log(0.05)
    top = {" Yes": math.log(0.8), " Sure": math.log(0.1), " I": math.log(0.05)}
    assert logprob_difference(top) == pytest.approx(math.log(0.8) - math.log(0.05))
    # the leftover mass can be the smaller bound
    top = {" Yes": math.log(0.6), " Sure": math.log(0.39)}
    assert logprob_difference(top) == pytest.approx(math.log(0.6) - math.log(0.01))
    # neither side present: both get the same bound
    assert logprob_difference({" Maybe": -0.1, " I": -3.0}) == 0.0
    with pytest.raises(InputError):
        logprob_difference({})


def test_answer_token_after_out_loud_and_skipping_punctuation():
    def tok(text):
        return TokenLogprobs(text, {text: -0.1})

    cot = [
        tok(" *"),
        tok("thinking"),
        tok("*"),
        tok(" I"),
        tok(" out"),
        tok(" loud"),
        tok("*"),
        tok(" No"),
        tok(","),
    ]
    assert answer_token(cot).token == " No"
    assert answer_token([tok("\n"), tok("**"), tok("Yes"), tok("**")]).token == "Yes"
    assert answer_token([tok("\n"), tok(".")]) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.", True),
        ("no, I am not", False),
        ("  Absolutely!", True),
        ("Never", False),
        ("*thinking* I lied *out loud* Yes, it is.", True),
        ("I cannot answer that.", None),
        ("", None),
        ("Yesterday was fine", None),
    ],
)
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) is expected


def test_each_question_in_a_fresh_continuation():
    replies = [Reply("Yes", None) if i % 2 else Reply("No", None) for i in range(65)]
    llm = Scripted(replies)
    result = interrogate(llm, TRANSCRIPT)
    assert len(llm.calls) == 65
    for call, probe in zip(llm.calls, load_probes(), strict=True):
        assert call == [*TRANSCRIPT, {"role": "user", "content": probe.text}]
    np.testing.assert_array_equal(result.binary, np.arange(65) % 2)
    assert np.isnan(result.logprob).all()
    assert result.answers[1] == "Yes"


def test_logprobs_give_both_vectors():
    diffs = np.linspace(-3, 3, 65)
    replies = []
    for d in diffs:
        p = 1 / (1 + math.exp(-d))
        top = {" Yes": math.log(p), " No": math.log(1 - p)}
        token = " Yes" if d > 0 else " No"
        # the text disagrees with the logprobs on purpose: logprobs win when present
        replies.append(Reply("Unclear", (TokenLogprobs(token, top),)))
    result = interrogate(Scripted(replies), TRANSCRIPT)
    np.testing.assert_allclose(result.logprob, diffs, atol=1e-12)
    np.testing.assert_array_equal(result.binary, (diffs > 0).astype(float))
    assert result.has_logprobs


def test_custom_probes_and_threads():
    class Echo:
        def complete(self, messages):
            return Reply("yes" if "sky" in messages[-1]["content"] else "no", None)

    result = interrogate(
        Echo(), TRANSCRIPT, probes=["Is the sky blue?", "Is 1 > 2?"], max_workers=2
    )
    np.testing.assert_array_equal(result.binary, [1.0, 0.0])


@pytest.mark.parametrize(
    ("transcript", "match"),
    [
        ([{"role": "user", "content": "Hi"}], "ends with a 'user' message"),
        ([], "empty"),
        ("Where is Paris?", "list of messages"),
        ([{"role": "assistant"}], r"transcript\[0\]\['content'\]"),
        ([{"role": "bot", "content": "x"}], "'bot'"),
    ],
)
def test_bad_transcripts(transcript, match):
    with pytest.raises(InputError, match=match):
        interrogate(Scripted([]), transcript)


def test_bad_backend_and_workers():
    with pytest.raises(InputError, match="llm="):
        interrogate(object(), TRANSCRIPT)
    with pytest.raises(InputError, match="max_workers=0"):
        interrogate(Scripted([]), TRANSCRIPT, max_workers=0)
