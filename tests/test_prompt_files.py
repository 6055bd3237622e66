from __future__ import annotations

import re
import string

import pytest

from errata.generators import prompt_files
from errata.generators.prompt_files import load_prompt, parse_prompt, read_prompt_text

# Each packaged prompt and the fields its callers fill in (a template may ask for more).
PROMPT_FIELDS = {
    "math/solve": {"question"},
    "math/teacher": {
        "question",
        "numbered_steps",
        "wrong_answer",
        "reference_answer",
        "error_types",
    },
    "math/self_edit": {"question", "numbered_steps", "edit_kind"},
    "math/wrong_solution": {
        "question",
        "reference_solution",
        "reference_answer",
        "error_type",
        "error_description",
    },
}
VERSION_RE = re.compile(r"^(?P<name>[a-z_/]+)@(?P<declared>\d+)-(?P<digest>[0-9a-f]{8})$")


def _template_fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("name", sorted(PROMPT_FIELDS))
def test_every_prompt_loads_with_a_versioned_name(name: str) -> None:
    prompt = load_prompt(name)
    assert prompt.name == name
    match = VERSION_RE.match(prompt.version)
    assert match, prompt.version
    assert match.group("name") == name
    assert prompt.system and prompt.user
    assert "## user" not in prompt.system and "version:" not in prompt.system


@pytest.mark.parametrize("name", sorted(PROMPT_FIELDS))
def test_messages_render_with_the_fields(name: str) -> None:
    prompt = load_prompt(name)
    assert PROMPT_FIELDS[name] <= _template_fields(prompt.user)
    fields = {field: f"<{field}-value>" for field in _template_fields(prompt.user)}
    messages = prompt.messages(**fields)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == prompt.system
    for value in fields.values():
        assert value in messages[1]["content"]
    assert "{" not in messages[1]["content"]


def test_solve_prompt_names_the_answer_line() -> None:
    assert "#### N" in load_prompt("math/solve").system


def test_load_prompt_is_cached() -> None:
    assert load_prompt("math/teacher") is load_prompt("math/teacher")


def test_version_follows_the_text_without_a_bump(monkeypatch: pytest.MonkeyPatch) -> None:
    original = read_prompt_text("math/teacher")
    edited = original.replace("careful math teacher", "patient math teacher")
    assert edited != original
    monkeypatch.setattr(prompt_files, "read_prompt_text", lambda name: edited)
    load_prompt.cache_clear()
    try:
        changed = load_prompt("math/teacher")
    finally:
        load_prompt.cache_clear()
    before = parse_prompt("math/teacher", original)
    assert changed.version != before.version
    assert changed.version.split("-")[0] == before.version.split("-")[0]  # same declared 1
    assert "patient math teacher" in changed.system


def test_declared_version_shows_in_the_version() -> None:
    text = "---\nversion: 7\n---\n## system\nS\n## user\nU {x}\n"
    prompt = parse_prompt("math/demo", text)
    assert prompt.version.startswith("math/demo@7-")
    assert prompt.messages(x="1")[1]["content"] == "U 1"


@pytest.mark.parametrize(
    "text",
    [
        "## system\nS\n## user\nU\n",  # no front matter
        "---\nauthor: me\n---\n## system\nS\n## user\nU\n",  # no version
        "---\nversion: 1\n---\n## system\nS\n",  # no user section
    ],
)
def test_malformed_prompt_files_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_prompt("math/bad", text)
