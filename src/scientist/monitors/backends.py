"""LLM backends behind one small protocol, for asking elicitation questions.

A backend takes a chat transcript (a list of ``{"role", "content"}`` messages) and returns the
model's next reply, with the top log-probabilities of each generated token when it can give
them. Two backends ship:

- :class:`OpenAIChat`: any server that speaks the OpenAI chat-completions protocol
  (``POST {base_url}/chat/completions``), over ``httpx``, with timeouts and retries. It asks for
  ``logprobs`` / ``top_logprobs``; a server that ignores or refuses them still works, and
  :func:`scientist.monitors.interrogate` then reads a yes/no from the reply's text.
- :class:`HFChat`: a local Hugging Face ``transformers`` causal language model (optional extra
  ``hf``: ``pip install 'scientist-ai[hf]'``), decoded greedily.

References
----------
.. [1] L. Pacchiardi et al., "How to Catch an AI Liar: Lie Detection in Black-Box LLMs by
   Asking Unrelated Questions", ICLR 2024, arXiv:2309.15840 (the detector needs only the
   model's answers, or their log-probabilities, to follow-up questions).
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

import httpx
import numpy as np

from scientist.errors import InputError, ScientistError

__all__ = [
    "BackendError",
    "ChatBackend",
    "HFChat",
    "Message",
    "OpenAIChat",
    "Reply",
    "TokenLogprobs",
]

Message = Mapping[str, str]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""

_ROLES = ("system", "user", "assistant")
_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class BackendError(ScientistError, RuntimeError):
    """An LLM backend failed: the server refused the request, kept failing, or replied badly."""


class TokenLogprobs(NamedTuple):
    """One generated token and the log-probabilities of the most likely tokens at its place.

    ``top`` maps token text (as the model spells it, e.g. ``" Yes"``) to its log-probability;
    it includes the generated token itself.
    """

    token: str
    top: Mapping[str, float]


class Reply(NamedTuple):
    """A model's reply: its text and, when the backend gives them, per-token log-probabilities."""

    text: str
    tokens: tuple[TokenLogprobs, ...] | None


@runtime_checkable
class ChatBackend(Protocol):
    """The protocol every backend follows: one method, no hidden conversation state."""

    def complete(self, messages: Sequence[Message]) -> Reply:
        """Return the model's next reply after ``messages``."""
        ...


def check_messages(messages: Sequence[Message], name: str = "messages") -> list[dict[str, str]]:
    """Validate a chat transcript and return it as a list of plain dicts.

    Raises
    ------
    InputError
        If ``messages`` is empty, or a message lacks a known ``role`` or a string ``content``.
    """
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise InputError(
            f"{name} is invalid: expected a list of messages like "
            '[{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}], '
            f"got {type(messages).__name__}."
        )
    if not messages:
        raise InputError(f"{name} is empty: expected at least one message.")
    checked = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InputError(
                f"{name}[{i}] is invalid: expected a mapping with 'role' and 'content', "
                f"got {type(message).__name__}."
            )
        role, content = message.get("role"), message.get("content")
        if role not in _ROLES:
            raise InputError(
                f"{name}[{i}]['role']={role!r} is invalid: expected one of {', '.join(_ROLES)}."
            )
        if not isinstance(content, str):
            raise InputError(
                f"{name}[{i}]['content'] is invalid: expected a string, "
                f"got {type(content).__name__}."
            )
        checked.append({"role": str(role), "content": content})
    return checked


# --------------------------------------------------------------------------- OpenAI
class OpenAIChat:
    """Client of an OpenAI-compatible chat-completions server (OpenAI, vLLM, llama.cpp, ...).

    Parameters
    ----------
    model
        Model name sent in each request.
    base_url
        Server root up to the API version, e.g. ``"https://api.openai.com/v1"`` or
        ``"http://127.0.0.1:8000/v1"``; requests go to ``{base_url}/chat/completions``.
    api_key
        Sent as ``Authorization: Bearer <api_key>`` when given.
    timeout
        Seconds allowed for connecting, and for each read, of one request.
    max_retries
        Extra attempts after a timeout, a connection error, or a retryable status (408, 409,
        429, 5xx). Other 4xx statuses fail at once.
    backoff
        The wait before retry ``k`` (0-based) is ``backoff * 2**k`` seconds, capped at
        ``max_backoff``, or the server's ``Retry-After`` when it is shorter than the cap.
    max_backoff
        Longest wait between two attempts, in seconds.
    max_tokens
        Tokens generated per reply (a yes/no answer needs few).
    top_logprobs
        Alternatives per token to ask for; the paper used the top 5.
    logprobs
        ``"auto"`` (default): ask for log-probabilities, and if the server refuses the
        parameters (HTTP 400 or 422), ask again without them and stop asking; ``True``: always
        ask (a refusal is an error); ``False``: never ask.
    temperature
        Sampling temperature; 0 (greedy) as in the paper.
    transport, sleep
        Hooks for tests: an ``httpx`` transport, and the function that waits between retries.

    Notes
    -----
    The client keeps no conversation: each :meth:`complete` sends the full transcript. It
    remembers only whether the server refused log-probabilities (``logprobs="auto"``).
    """

    def __init__(
        self,
        model: str,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_tokens: int = 8,
        top_logprobs: int = 5,
        logprobs: bool | Literal["auto"] = "auto",
        temperature: float = 0.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise InputError(f"model={model!r} is invalid: expected a non-empty model name.")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InputError(
                f"base_url={base_url!r} is invalid: expected an http(s) URL such as "
                "'http://127.0.0.1:8000/v1'."
            )
        if not (isinstance(timeout, int | float) and timeout > 0):
            raise InputError(f"timeout={timeout!r} is invalid: expected seconds > 0.")
        if not (isinstance(max_retries, int) and max_retries >= 0):
            raise InputError(f"max_retries={max_retries!r} is invalid: expected an integer >= 0.")
        if not (isinstance(backoff, int | float) and backoff >= 0 and max_backoff >= 0):
            raise InputError(
                f"backoff={backoff!r}, max_backoff={max_backoff!r} are invalid: "
                "expected seconds >= 0."
            )
        if not (isinstance(max_tokens, int) and max_tokens >= 1):
            raise InputError(f"max_tokens={max_tokens!r} is invalid: expected an integer >= 1.")
        if not (isinstance(top_logprobs, int) and 1 <= top_logprobs <= 20):
            raise InputError(
                f"top_logprobs={top_logprobs!r} is invalid: expected an integer in 1..20."
            )
        if logprobs not in (True, False, "auto"):
            raise InputError(f"logprobs={logprobs!r} is invalid: expected True, False or 'auto'.")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_tokens = max_tokens
        self.top_logprobs = top_logprobs
        self.logprobs = logprobs
        self.temperature = float(temperature)
        self._sleep = sleep
        self._ask_logprobs = logprobs is not False
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout), headers=headers, transport=transport
        )

    def __repr__(self) -> str:
        return f"OpenAIChat(model={self.model!r}, base_url={self.base_url!r})"

    # context manager and cleanup
    def close(self) -> None:
        """Close the underlying HTTP connections."""
        self._client.close()

    def __enter__(self) -> OpenAIChat:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _body(self, messages: list[dict[str, str]], with_logprobs: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        if with_logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = self.top_logprobs
        return body

    def _wait(self, attempt: int, response: httpx.Response | None) -> None:
        delay = min(self.backoff * 2**attempt, self.max_backoff)
        if response is not None:
            after = _retry_after(response.headers.get("retry-after"))
            if after is not None and after <= self.max_backoff:
                delay = after
        if delay > 0:
            self._sleep(delay)

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        url = f"{self.base_url}/chat/completions"
        last = ""
        for attempt in range(self.max_retries + 1):
            response = None
            try:
                response = self._client.post(url, json=body)
            except httpx.TimeoutException:
                last = f"no reply within {self.timeout:g} s (timeout)"
            except httpx.TransportError as exc:
                last = f"connection failed ({type(exc).__name__}: {exc})"
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in _RETRY_STATUS:
                    return response  # a client error: the caller decides
                last = f"HTTP {response.status_code}: {_error_text(response)}"
            if attempt < self.max_retries:
                self._wait(attempt, response)
        raise BackendError(
            f"{url} failed after {self.max_retries + 1} attempts; last error: {last}. "
            "Check that the server is up, or raise timeout / max_retries."
        )

    def complete(self, messages: Sequence[Message]) -> Reply:
        """Ask the server for the next assistant reply after ``messages``.

        Returns
        -------
        Reply
            The reply text; ``tokens`` holds per-token top log-probabilities when the server
            gives them, else None.

        Raises
        ------
        InputError
            If ``messages`` is not a valid transcript.
        BackendError
            If the server keeps failing, refuses the request, or sends a malformed reply.
        """
        checked = check_messages(messages)
        with_logprobs = self._ask_logprobs
        response = self._post(self._body(checked, with_logprobs))
        if response.status_code in (400, 422) and with_logprobs and self.logprobs == "auto":
            # The server refused the request; try once more without the logprobs parameters.
            retry = self._post(self._body(checked, False))
            if retry.status_code < 400:
                self._ask_logprobs = False
            response = retry
        if response.status_code >= 400:
            raise BackendError(
                f"{self.base_url}/chat/completions refused the request: HTTP "
                f"{response.status_code}: {_error_text(response)}"
            )
        return _parse_reply(response)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _error_text(response: httpx.Response) -> str:
    try:
        document = response.json()
        error = document.get("error", document) if isinstance(document, dict) else document
        message = error.get("message", error) if isinstance(error, dict) else error
        text = str(message)
    except ValueError:
        text = response.text
    return text[:300] or response.reason_phrase


def _parse_reply(response: httpx.Response) -> Reply:
    where = str(response.request.url)
    try:
        document = response.json()
        choice = document["choices"][0]
        content = choice["message"].get("content") or ""
        logprobs = choice.get("logprobs")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise BackendError(
            f"{where} sent a reply that is not a chat completion (no choices[0].message): "
            f"{response.text[:200]!r}"
        ) from None
    if not isinstance(content, str):
        raise BackendError(f"{where} sent a non-text message content: {content!r:.200}")
    entries = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not entries:
        return Reply(content, None)
    tokens = []
    try:
        for entry in entries:
            top = {
                str(alt["token"]): float(alt["logprob"]) for alt in entry.get("top_logprobs") or ()
            }
            token = str(entry["token"])
            top.setdefault(token, float(entry["logprob"]))
            tokens.append(TokenLogprobs(token, top))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise BackendError(f"{where} sent malformed logprobs: {entries!r:.200}") from None
    return Reply(content, tuple(tokens))


# ------------------------------------------------------------------- Hugging Face
def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise ImportError(
            "HFChat needs the Hugging Face transformers package, which is not installed. "
            "Install the optional extra: pip install 'scientist-ai[hf]'"
        ) from exc
    return transformers


class HFChat:
    """A local Hugging Face causal language model, decoded greedily.

    Parameters
    ----------
    model
        A loaded ``transformers`` causal LM (then ``tokenizer`` is required), or a model name
        or local folder for ``AutoModelForCausalLM.from_pretrained``.
    tokenizer
        Its tokenizer; loaded with ``AutoTokenizer.from_pretrained(model)`` when ``model`` is a
        name.
    max_new_tokens
        Tokens generated per reply.
    top_logprobs
        Alternatives recorded per generated token.
    local_files_only
        Passed to ``from_pretrained``: True never downloads (the model must be cached or a
        local folder).

    Notes
    -----
    The prompt uses the tokenizer's chat template when it has one. Otherwise the transcript
    is written in the completion format of the paper: system text first, then
    ``"Question: ..."`` for user turns and ``"Answer: ..."`` for assistant turns, ending in
    ``"Answer:"``. Decoding stops at the end-of-sequence token or a newline.

    Raises
    ------
    ImportError
        If ``transformers`` is not installed (``pip install 'scientist-ai[hf]'``).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        max_new_tokens: int = 8,
        top_logprobs: int = 5,
        local_files_only: bool = False,
    ) -> None:
        transformers = _import_transformers()
        if not (isinstance(max_new_tokens, int) and max_new_tokens >= 1):
            raise InputError(
                f"max_new_tokens={max_new_tokens!r} is invalid: expected an integer >= 1."
            )
        if not (isinstance(top_logprobs, int) and top_logprobs >= 1):
            raise InputError(f"top_logprobs={top_logprobs!r} is invalid: expected an integer >= 1.")
        if isinstance(model, str):
            tokenizer = tokenizer or transformers.AutoTokenizer.from_pretrained(
                model, local_files_only=local_files_only
            )
            model = transformers.AutoModelForCausalLM.from_pretrained(
                model, local_files_only=local_files_only
            )
        elif tokenizer is None:
            raise InputError(
                "tokenizer=None is invalid when model is a loaded model: pass its tokenizer too."
            )
        model.eval()
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.top_logprobs = top_logprobs

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of the prompt for ``messages`` (see the class notes for the format)."""
        checked = check_messages(messages)
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(
                checked, add_generation_prompt=True, tokenize=False
            )
            ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            return ids
        parts = []
        for message in checked:
            if message["role"] == "system":
                parts.append(message["content"].strip())
            elif message["role"] == "user":
                parts.append(f"Question: {message['content'].strip()}")
            else:
                parts.append(f"Answer: {message['content'].strip()}")
        text = "\n".join(parts) + "\nAnswer:"
        ids = self.tokenizer(text)["input_ids"]
        return ids

    def complete(self, messages: Sequence[Message]) -> Reply:
        """Greedy reply after ``messages`` with the top log-probabilities of every token."""
        import torch

        ids = self.prompt_ids(messages)
        device = next(self.model.parameters()).device
        input_ids = torch.tensor([ids], dtype=torch.long, device=device)
        eos = getattr(self.tokenizer, "eos_token_id", None)
        generated: list[int] = []
        tokens = []
        with torch.no_grad():
            for _ in range(self.max_new_tokens):
                logits = self.model(input_ids=input_ids).logits[0, -1].float()
                logp = torch.log_softmax(logits, dim=-1)
                k = min(self.top_logprobs, logp.shape[-1])
                values, indices = torch.topk(logp, k)
                next_id = int(indices[0])
                if eos is not None and next_id == eos:
                    break
                top: dict[str, float] = {}
                for value, index in zip(values.tolist(), indices.tolist(), strict=True):
                    alt = self.tokenizer.decode([int(index)])
                    # ids that decode to the same text are one answer: add their probabilities
                    top[alt] = float(np.logaddexp(top[alt], value)) if alt in top else value
                token = self.tokenizer.decode([next_id])
                if "\n" in token and generated:
                    break
                generated.append(next_id)
                tokens.append(TokenLogprobs(token, top))
                next_tensor = torch.tensor([[next_id]], dtype=torch.long, device=device)
                input_ids = torch.cat([input_ids, next_tensor], dim=1)
        text = self.tokenizer.decode(generated, skip_special_tokens=True).strip()
        return Reply(text, tuple(tokens))
