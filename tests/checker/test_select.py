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
