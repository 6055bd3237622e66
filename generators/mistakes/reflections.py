"""Reflection phrases that join a wrong prefix to its correction (written for errata)."""

from __future__ import annotations

import random

REFLECTIONS: tuple[str, ...] = (
    "Hold on, that step does not look right. Let me redo it.",
    "Wait, I should double-check that calculation before going on.",
    "Something is off here; let me look at that step again.",
    "Let me pause and verify the last step against the question.",
    "Before continuing, I want to recheck the numbers I just used.",
    "That result seems suspicious. Let me work it out once more.",
    "Hmm, I may have slipped in that step. Checking it again.",
    "Let me go back over that line carefully.",
    "I think I made a mistake just now; let me fix it.",
    "Re-reading the question, that step needs another look.",
    "Let me test that step by recomputing it from the start.",
    "Not so fast: the last step deserves a second check.",
    "On reflection, that step is wrong. Here is the corrected reasoning.",
    "I should verify each quantity before relying on it. Rechecking now.",
)


def pick_reflection(seed: int) -> str:
    """A reflection phrase chosen by the item's seed."""
    return random.Random(seed).choice(REFLECTIONS)
