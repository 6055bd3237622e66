"""Offline helpers for testing rows against TRL's data helpers (no Hub, no files).

`offline_chat_tokenizer()` builds a byte-level tokenizer with a ChatML template in memory.
`check_trl_row()` validates a row's shape, renders it the way TRL's trainers do, and checks
the rendered fields. Shapes follow TRL's dataset-format docs; rows may carry extra keys
(e.g. ids), which are ignored.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import TemplateError
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast
from trl.data_utils import apply_chat_template, is_conversational, maybe_apply_chat_template

# ChatML; raises on a message without string role/content instead of rendering "" for it.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] is not string or message['content'] is not string %}"
    "{{ raise_exception('each message needs a string role and content') }}"
    "{%- endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Key set -> fields that must come out of the chat template (for standard rows: be there).
SHAPES: dict[frozenset[str], tuple[str, ...]] = {
    frozenset({"messages"}): ("text",),
    frozenset({"text"}): ("text",),
    frozenset({"prompt"}): ("prompt",),
    frozenset({"prompt", "completion"}): ("prompt", "completion"),
    frozenset({"prompt", "chosen", "rejected"}): ("prompt", "chosen", "rejected"),
    frozenset({"chosen", "rejected"}): ("chosen", "rejected"),
    frozenset({"prompt", "completion", "label"}): ("prompt", "completion", "label"),
    frozenset({"prompt", "completions", "labels"}): ("prompt", "completions", "labels"),
}
TRL_KEYS = frozenset().union(*SHAPES)
CHAT_KEYS = ("messages", "prompt", "completion", "chosen", "rejected")


@cache
def offline_chat_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE (256 byte symbols, no merges): encodes any text losslessly."""
    vocab = {ch: i for i, ch in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _is_chat(value: Any, key: str) -> bool:
    """True for a list of messages, False for a string; ValueError for anything else."""
    if isinstance(value, str):
        return False
    if not isinstance(value, list) or not value:
        raise ValueError(f"{key!r} must be a string or a non-empty list of messages")
    for message in value:
        if not (
            isinstance(message, dict)
            and isinstance(message.get("role"), str)
            and isinstance(message.get("content"), str)
        ):
            raise ValueError(f"{key!r} has a message without string 'role'/'content': {message!r}")
    return True


def _validate(row: dict[str, Any]) -> tuple[str, ...]:
    keys = frozenset(row) & TRL_KEYS
    if keys not in SHAPES:
        raise ValueError(f"keys {sorted(keys)} match no TRL dataset shape")
    kinds = {_is_chat(row[key], key) for key in CHAT_KEYS if key in keys}
    if len(kinds) > 1:
        raise ValueError("row mixes conversational and standard (string) fields")
    if "messages" in keys and kinds != {True}:
        raise ValueError("'messages' must be a list of messages")
    if "label" in keys and not isinstance(row["label"], bool):
        raise ValueError("'label' must be a bool")
    if "labels" in keys:
        steps, labels = row["completions"], row["labels"]
        if not (isinstance(steps, list) and all(isinstance(s, str) for s in steps)):
            raise ValueError("'completions' must be a list of strings")
        if not (isinstance(labels, list) and all(isinstance(b, bool) for b in labels)):
            raise ValueError("'labels' must be a list of bools")
        if len(steps) != len(labels) or not steps:
            raise ValueError(f"{len(steps)} completions vs {len(labels)} labels")
    return SHAPES[keys]


def check_trl_row(row: dict[str, Any], tokenizer: PreTrainedTokenizerFast) -> dict[str, Any]:
    """Render `row` as TRL's trainers do and return the fields they expect for its shape.

    Raises ValueError on a malformed row or one TRL cannot render, AssertionError if the
    rendered fields are not the non-empty strings (and labels) TRL's trainers consume.
    """
    expected = _validate(row)
    try:
        rendered = maybe_apply_chat_template(row, tokenizer)
        if is_conversational(row):
            direct = apply_chat_template(row, tokenizer)
            assert direct == rendered, "apply_chat_template != maybe_apply_chat_template"
    except (KeyError, TypeError, ValueError, IndexError, TemplateError) as exc:
        raise ValueError(f"TRL could not render the row: {exc!r}") from exc
    out = {**row, **rendered}  # like Dataset.map: columns TRL leaves alone (labels) stay
    for field in expected:
        value = out.get(field)
        if field == "completions":
            assert value and all(isinstance(s, str) and s for s in value), f"bad {field}: {value!r}"
        elif field in ("label", "labels"):
            continue  # type-checked in _validate, passed through unchanged by TRL
        else:
            assert isinstance(value, str) and value, f"{field!r} is not a non-empty string"
    return {field: out[field] for field in expected}
