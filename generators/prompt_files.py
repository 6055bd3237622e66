"""Prompts are files, shipped with the package, each with a version that follows its text.

A prompt file (`generators/prompts/<domain>/<name>.md`) looks like::

    ---
    version: 1
    ---
    ## system
    You are ...
    ## user
    Question: {question}

The user section is a `str.format` template (write `{{` and `}}` for literal braces). The
version is the declared number plus a hash of the whole file, so editing a prompt without
bumping its number still changes the version, and so every cached reply made with the old
text misses.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import re
from dataclasses import dataclass

_FRONT_MATTER = re.compile(r"\A---\s*\n(?P<meta>.*?)\n---\s*\n", re.DOTALL)
_SECTION = re.compile(r"^## (?P<name>[a-z]+)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Prompt:
    name: str  # "math/teacher"
    version: str  # "math/teacher@1-3fa2b1c0": declared version plus a content hash
    system: str
    user: str  # a str.format template

    def messages(self, **fields: str) -> list[dict[str, str]]:
        """The chat messages with the user template filled in."""
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user.format(**fields)},
        ]


def read_prompt_text(name: str) -> str:
    """The raw text of a packaged prompt file; `name` is e.g. "math/teacher"."""
    resource = importlib.resources.files("errata.generators") / "prompts"
    for part in f"{name}.md".split("/"):
        resource = resource / part
    return resource.read_text(encoding="utf-8")


def parse_prompt(name: str, text: str) -> Prompt:
    """Build a Prompt from a file's text; raises ValueError on a malformed file."""
    front = _FRONT_MATTER.match(text)
    if front is None:
        raise ValueError(f"prompt {name}: missing front matter (---\\nversion: N\\n---)")
    meta = dict(line.split(":", 1) for line in front.group("meta").splitlines() if ":" in line)
    declared = meta.get("version", "").strip()
    if not declared:
        raise ValueError(f"prompt {name}: front matter has no version")
    body = text[front.end() :]
    headers = list(_SECTION.finditer(body))
    sections: dict[str, str] = {}
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(body)
        sections[header.group("name")] = body[header.end() : end].strip()
    missing = {"system", "user"} - sections.keys()
    if missing:
        raise ValueError(f"prompt {name}: missing section(s) {sorted(missing)}")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return Prompt(
        name=name,
        version=f"{name}@{declared}-{digest}",
        system=sections["system"],
        user=sections["user"],
    )


@functools.cache
def load_prompt(name: str) -> Prompt:
    """The packaged prompt `name` (e.g. "math/teacher"), read once per process."""
    return parse_prompt(name, read_prompt_text(name))
