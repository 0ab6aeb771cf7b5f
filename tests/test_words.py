"""The words the language accepts and the engine and checker act on are the same lists: status
words, observables with their arguments and kinds, madvise advice, protections and TLB levels.
The language and the engine cannot import each other (docs/architecture.md), so where each keeps
its own list, this test holds them together."""

from __future__ import annotations

import re

from vmspec.checker import observables
from vmspec.checker.evaluate import STATUS_WORDS as CHECKER_STATUS_WORDS
from vmspec.engine.madvise import ADVICE
from vmspec.engine.process import STATUSES
from vmspec.engine.tlb import LEVEL_SHIFTS
from vmspec.engine.vma import PROTS
from vmspec.language import kinds
from vmspec.language.machines import TLB_LEVELS
from vmspec.language.tables import grammar_text


def grammar_words(rule: str) -> set[str]:
    """Return the words of the last group of alternatives of ``rule`` in the grammar (the whole
    rule without one), as written in specs (`(DONTNEED | HUGEPAGE)` -> {"dontneed", "hugepage"})."""
    text = grammar_text()
    body = re.search(rf"^{rule}:(.*)$", text, re.M).group(1)
    names = re.findall(r"\b[A-Z_]+\b", body[body.rfind("("):] if "(" in body else body)
    return {re.search(rf'^{name}: "([^"]+)"', text, re.M).group(1) for name in names}


def test_status_words():
    assert set(kinds.STATUS_WORDS) == set(STATUSES) == CHECKER_STATUS_WORDS


def test_madvise_advice():
    assert grammar_words("madvise") == set(ADVICE)


def test_protections():
    assert grammar_words("mprotect") == grammar_words("prot_opt") == set(PROTS)


def test_tlb_levels():
    assert set(TLB_LEVELS) == set(LEVEL_SHIFTS)


def test_observables_have_the_same_arguments_and_kinds():
    """Every observable the language's kind checker knows is bound in the checker with the same
    argument shape and kind, and the checker binds nothing else."""
    expected = {}
    for name, (shapes, kind) in kinds.OBSERVABLES.items():
        for shape in shapes:
            key = (name, shape if (name, shape) in (("time", "P"), ("shared", "PP"), ("shared", "RR"))
                   else None)
            expected[key] = (shape, kind)
    for name, fields in kinds.FIELDS.items():
        for field, kind in fields.items():
            expected[(name, field)] = ("P", kind)
    bound = {key: (b.args, b.kind) for key, b in observables.TABLE.items()}
    assert bound == expected
