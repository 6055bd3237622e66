from __future__ import annotations

import socket
from typing import Any

import pytest
from transformers import PreTrainedTokenizerFast
from trl.data_utils import apply_chat_template

from tests.trl_helpers import check_trl_row, offline_chat_tokenizer

USER = [{"role": "user", "content": "What is 2 + 3?"}]
GOOD = [{"role": "assistant", "content": "2 + 3 = 5."}]
BAD = [{"role": "assistant", "content": "2 + 3 = 6."}]
PROMPT = "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n"
A5 = "2 + 3 = 5.<|im_end|>\n"
A6 = "2 + 3 = 6.<|im_end|>\n"


@pytest.fixture(scope="module")
def tok() -> PreTrainedTokenizerFast:
    return offline_chat_tokenizer()


def test_tokenizer_builds_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*_: Any, **__: Any) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    tok = offline_chat_tokenizer.__wrapped__()
    ids = tok("<|im_start|>héllo 😀<|im_end|>")["input_ids"]
    assert ids[0] == tok.convert_tokens_to_ids("<|im_start|>")
    assert ids[-1] == tok.eos_token_id != tok.pad_token_id
    assert tok.decode(ids) == "<|im_start|>héllo 😀<|im_end|>"
    assert offline_chat_tokenizer() is offline_chat_tokenizer()


CONVERSATIONAL: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"messages": USER + GOOD}, {"text": PROMPT + A5}),
    ({"prompt": USER}, {"prompt": PROMPT}),
    ({"prompt": USER, "completion": GOOD}, {"prompt": PROMPT, "completion": A5}),
    (
        {"prompt": USER, "chosen": GOOD, "rejected": BAD},
        {"prompt": PROMPT, "chosen": A5, "rejected": A6},
    ),
    (
        {"prompt": USER, "completion": BAD, "label": False, "id": "x1"},
        {"prompt": PROMPT, "completion": A6, "label": False},
    ),
    (
        {"prompt": USER, "completions": ["2 + 3 = 5.", "So 5."], "labels": [True, True]},
        {"prompt": PROMPT, "completions": ["2 + 3 = 5.", "So 5."], "labels": [True, True]},
    ),
]


@pytest.mark.parametrize(("row", "want"), CONVERSATIONAL)
def test_conversational_rows_render(
    row: dict[str, Any], want: dict[str, Any], tok: PreTrainedTokenizerFast
) -> None:
    assert check_trl_row(row, tok) == want


STANDARD: list[dict[str, Any]] = [
    {"text": "2 + 3 = 5."},
    {"prompt": "What is 2 + 3?", "completion": " 5."},
    {"prompt": "What is 2 + 3?", "chosen": " 5.", "rejected": " 6."},
    {"prompt": "What is 2 + 3?", "completion": " 6.", "label": False},
    {"prompt": "What is 2 + 3?", "completions": ["2 + 3 = 5.", "So 6."], "labels": [True, False]},
]


@pytest.mark.parametrize("row", STANDARD)
def test_standard_rows_pass_through(row: dict[str, Any], tok: PreTrainedTokenizerFast) -> None:
    assert check_trl_row(row, tok) == row


MALFORMED: list[dict[str, Any]] = [
    {"messages": "2 + 3 = 5."},  # TRL: maybe_apply_chat_template passes it through silently
    {"messages": [{"content": "hi"}, *GOOD]},  # first message lacks role: also silently passed
    {"messages": [*USER, {"role": "assistant"}]},
    {"messages": []},
    {"prompt": USER, "chosen": "5.", "rejected": "6."},  # TRL's verdict depends on hash seed
    {"prompt": USER, "chosen": GOOD},
    {"prompt": USER, "completion": GOOD, "label": "yes"},
    {"prompt": "Q", "completions": ["a", "b"], "labels": [True]},
    {"messages": USER + GOOD, "prompt": USER},
    {"answer": "5"},
]


@pytest.mark.parametrize("row", MALFORMED)
def test_malformed_rows_are_rejected(row: dict[str, Any], tok: PreTrainedTokenizerFast) -> None:
    with pytest.raises(ValueError):
        check_trl_row(row, tok)


def test_trl_failure_is_wrapped(tok: PreTrainedTokenizerFast) -> None:
    row = {"prompt": [{"role": "system", "content": "Be terse."}], "completion": GOOD}
    with pytest.raises(ValueError, match="Invalid role in the last message"):
        check_trl_row(row, tok)


def test_template_rejects_message_without_role(tok: PreTrainedTokenizerFast) -> None:
    with pytest.raises(Exception, match="string role and content"):
        apply_chat_template({"messages": [*USER, {"content": "5"}]}, tok)
