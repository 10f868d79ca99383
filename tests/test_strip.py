"""Stripping hidden and reference-dependent tests out of grader files."""

from __future__ import annotations

from loopgrader.dist.strip import strip_hidden

SOURCE = '''import pytest


def helper():
    return 1


@pytest.mark.points(2)
def test_public(student):
    """public"""
    assert helper()


@pytest.mark.points(1)
@pytest.mark.visibility("hidden")
def test_secret_edge_case(student):
    """hidden"""
    assert student.f(0) == 42


def test_against_reference(student, reference):
    assert student.f(1) == reference.f(1)


@pytest.mark.visibility("hidden")
class TestHiddenGroup:
    def test_inside(self, student):
        pass
'''


def test_hidden_and_reference_tests_are_removed_and_the_rest_kept_verbatim() -> None:
    public, removed = strip_hidden(SOURCE)
    assert public is not None
    assert removed == ["test_secret_edge_case", "test_against_reference", "TestHiddenGroup"]
    assert "secret_edge_case" not in public and "42" not in public
    assert "reference" not in public and "TestHiddenGroup" not in public
    assert 'def test_public(student):\n    """public"""\n    assert helper()' in public
    assert "def helper():" in public


def test_a_file_marked_hidden_as_a_whole_is_dropped() -> None:
    public, removed = strip_hidden('import pytest\npytestmark = [pytest.mark.visibility("hidden")]'
                                   '\n\ndef test_x(student):\n    pass\n')
    assert public is None and removed


def test_a_file_with_no_public_test_left_is_dropped() -> None:
    public, _ = strip_hidden("def test_only(reference):\n    pass\n")
    assert public is None


def test_private_helpers_only_removed_tests_used_are_dropped_too() -> None:
    source = ("def _replica(reference):\n    return reference.train()\n\n\n"
              "def _shared():\n    return 1\n\n\n"
              "def test_public(student):\n    assert _shared()\n\n\n"
              "def test_ref(student, reference):\n    assert _replica(reference)\n")
    public, removed = strip_hidden(source)
    assert public is not None and "_replica" not in public and "_shared" in public
    assert removed == ["test_ref", "_replica"]
