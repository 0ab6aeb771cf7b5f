"""-k expressions and PATH::TITLE targets (issue 5: selection like pytest's)."""

import pytest

from vmspec.checker.select import compile_k, split_target
from vmspec.errors import UsageError


@pytest.mark.parametrize(
    "expr, title, expected",
    [
        ("fork", "fork shares pages", True),
        ("FORK", "fork shares pages", True),
        ("swap", "fork shares pages", False),
        ("fork and pages", "fork shares pages", True),
        ("fork and swap", "fork shares pages", False),
        ("swap or pages", "fork shares pages", True),
        ("not swap", "fork shares pages", True),
        ("not (fork or swap)", "fork shares pages", False),
        ("(fork and not swap) or oom", "oom kills", True),
    ],
)
def test_k_expressions(expr, title, expected):
    assert compile_k(expr)(title) is expected


@pytest.mark.parametrize("bad", ["fork and", "(fork", "fork )", "and fork", "not"])
def test_malformed_k_is_a_usage_error(bad):
    with pytest.raises(UsageError):
        compile_k(bad)


def test_split_target():
    assert split_target("specs/fork.vms::fork shares: pages") == ("specs/fork.vms", "fork shares: pages")
    assert split_target("specs/fork.vms") == ("specs/fork.vms", None)
    assert split_target("specs") == ("specs", None)


@pytest.mark.parametrize(
    "expr, title, expected",
    [
        ("fork shares", "fork shares pages", True),  # words side by side are one phrase
        ("fork  pages", "fork shares pages", False),
        ("fork shares and not swap", "fork shares pages", True),
        ('"rock and roll"', "Rock and Roll", True),  # quotes hold operator words
        ("'(a)'", "title (a)", True),
        ("child's", "the child's pages", True),  # an apostrophe inside a word is no quote
        ("STRASSE", "Straße", True),  # case folded, not just lowered
        ("'a::b c'", "a::b c", True),
    ],
)
def test_k_phrases_and_quotes(expr, title, expected):
    assert compile_k(expr)(title) is expected


@pytest.mark.parametrize("bad", ['"fork', "'a b"])
def test_unterminated_quote_in_k(bad):
    with pytest.raises(UsageError, match="unterminated quote"):
        compile_k(bad)


def test_split_target_with_colons_in_the_title():
    assert split_target("a::b/x.vms::t::u v") == ("a::b/x.vms", "t::u v")


@pytest.mark.parametrize("expr, expected", [
    ("(" * 500 + "fork" + ")" * 500, True),
    ("not " * 1000 + "fork", True),
    ("not " * 1001 + "fork", False),
    (" or ".join(f"w{i}" for i in range(5000)) + " or pages", True),
    (" and ".join(["fork"] * 5000), True),
])
def test_deep_k_expressions_do_not_recurse(expr, expected):
    """These hit Python's recursion limit (exit 3) when -k was parsed and evaluated recursively."""
    assert compile_k(expr)("fork shares pages") is expected


def test_k_precedence_matches_pytest():
    assert compile_k("a or b and c")("a") is True  # and binds tighter than or
    assert compile_k("not a and b")("b") is True and compile_k("not a and b")("ab") is False
    assert compile_k("not (a and b) or c")("ab") is False
