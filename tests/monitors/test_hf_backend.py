"""HFChat: a clear error without transformers; greedy decoding on a tiny local model with it."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from scientist.monitors import HFChat, interrogate


def test_missing_transformers_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` fail
    with pytest.raises(ImportError, match=r"pip install 'scientist-ai\[hf\]'"):
        HFChat("any-model")


def _tiny_model():
    """A randomly initialised 1-layer GPT-2 and a word-level tokenizer: nothing downloaded."""
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    import torch

    words = [
        "[UNK]",
        "[EOS]",
        "Question:",
        "Answer:",
        "Yes",
        "No",
        "yes",
        "no",
        "is",
        "the",
        "sky",
        "blue",
        "?",
        ".",
        "Rome",
        "Paris",
        "\n",
    ]
    vocab = {w: i for i, w in enumerate(words)}
    core = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    core.decoder = tokenizers.decoders.WordPiece(prefix="##")  # joins words with spaces
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="[UNK]", eos_token="[EOS]"
    )
    config = transformers.GPT2Config(
        vocab_size=len(words),
        n_positions=256,
        n_embd=16,
        n_layer=1,
        n_head=2,
        eos_token_id=1,
        bos_token_id=1,
    )
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config)
    return model, tokenizer


def test_greedy_reply_with_top_logprobs():
    import torch

    model, tokenizer = _tiny_model()
    llm = HFChat(model, tokenizer, max_new_tokens=3, top_logprobs=4)
    messages = [
        {"role": "user", "content": "is the sky blue ?"},
        {"role": "assistant", "content": "Rome ."},
        {"role": "user", "content": "is the sky blue ?"},
    ]
    ids = llm.prompt_ids(messages)
    # no chat template: the paper's completion format
    prompt = "Question: is the sky blue ?\nAnswer: Rome .\nQuestion: is the sky blue ?\nAnswer:"
    assert ids == tokenizer(prompt)["input_ids"]
    reply = llm.complete(messages)
    assert reply.tokens is not None and 1 <= len(reply.tokens) <= 3
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
    logp = torch.log_softmax(logits, dim=-1)
    best = int(torch.argmax(logp))
    first = reply.tokens[0]
    assert first.token == tokenizer.decode([best])
    assert first.top[first.token] == pytest.approx(float(logp[best]), abs=1e-5)
    assert len(first.top) == 4
    assert max(first.top.values()) == pytest.approx(float(logp.max()), abs=1e-5)


def test_interrogate_a_local_model():
    model, tokenizer = _tiny_model()
    llm = HFChat(model, tokenizer, max_new_tokens=2, top_logprobs=17)
    transcript = [
        {"role": "user", "content": "is the sky blue ?"},
        {"role": "assistant", "content": "No ."},
    ]
    result = interrogate(llm, transcript, probes=["is the sky blue ?", "is Rome Paris ?"])
    # with the whole vocabulary in the top list the difference is exact
    assert np.isfinite(result.logprob).all()
    assert result.binary.tolist() == (result.logprob > 0).astype(float).tolist()


def test_chat_template_is_used_when_present():
    model, tokenizer = _tiny_model()
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'user' %}Question: {% else %}Answer: "
        "{% endif %}{{ m['content'] }} {% endfor %}{% if add_generation_prompt %}Yes{% endif %}"
    )
    llm = HFChat(model, tokenizer)
    ids = llm.prompt_ids([{"role": "user", "content": "is the sky blue ?"}])
    assert (
        ids == tokenizer("Question: is the sky blue ? Yes", add_special_tokens=False)["input_ids"]
    )
