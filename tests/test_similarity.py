"""Similarity: robust to renaming, reformatting and reordering; the stub never counts; a planted
copy tops a class of honest solutions (lesson 1.2's alternatives and mutants). No grading."""

from __future__ import annotations

from pathlib import Path

from loopgrader.batch.similarity import fingerprint, lesson_similarity, marked_lines
from loopgrader.output.similarity import PairRow, SideBySide, SimilaritySide, similarity_html

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "tests" / "lessons" / "1.2"
STUB = (ROOT / "exercises" / "1.2" / "linear_regression.py").read_text(encoding="utf-8")
PLANTED = ROOT / "tests" / "fixtures" / "similarity" / "copied_matmul_mv.py"


def _class() -> dict[str, str]:
    sources = {f"{kind}/{path.stem}": path.read_text(encoding="utf-8")
               for kind in ("alternatives", "mutants")
               for path in sorted((LESSON / kind).glob("*.py"))}
    sources["planted"] = PLANTED.read_text(encoding="utf-8")
    return sources


def test_a_planted_copy_tops_the_class() -> None:
    report = lesson_similarity("1.2", _class(), STUB)
    top = report.pairs[0]
    assert {top.a, top.b} == {"alternatives/matmul_mv", "planted"}
    assert top.score == 1.0
    assert report.pairs[1].score < top.score
    assert not report.skipped
    assert len(report.pairs) == len(report.documents) * (len(report.documents) - 1) // 2


def test_renaming_reformatting_and_reordering_change_nothing() -> None:
    original = "def f(a, b):\n    total = a * b  # product\n    return total - b\n\n\n" \
               "def g(xs):\n    return [x + 1 for x in xs]\n"
    disguised = 'def g(items):\n    """Doc."""\n    return [ (i + 1)  for i in items ]\n\n' \
                "def f(p, q):\n    result = (p\n              * q)\n    return result - q\n"
    a, b = fingerprint("a", original), fingerprint("b", disguised)
    assert a.prints == b.prints and a.prints


def test_order_of_operands_and_api_names_still_count() -> None:
    base = fingerprint("a", "def f(pred, y):\n    r = pred - y\n    return r.mean() * 2.0\n")
    swapped = fingerprint("b", "def f(pred, y):\n    r = y - pred\n    return r.mean() * 2.0\n")
    other_api = fingerprint("c", "def f(pred, y):\n    r = pred - y\n    return r.sum() * 2.0\n")
    assert base.prints != swapped.prints and base.prints != other_api.prints


def test_the_stub_alone_has_nothing_left() -> None:
    report = lesson_similarity("1.2", {"stub": STUB, "copy_of_stub": STUB}, STUB)
    assert report.pairs == ()
    assert set(report.skipped) == {"stub", "copy_of_stub"}
    broken = lesson_similarity("1.2", {"bad": "def (:\n"}, STUB)
    assert "not valid Python" in broken.skipped["bad"]


def test_marked_lines_and_the_page_escape_student_code() -> None:
    sources = {"x": "def f(a):\n    b = a + 1\n    c = b * 2\n    return '<script>' + c\n",
               "y": "def f(q):\n    w = q + 1\n    e = w * 2\n    return '<script>' + e\n"}
    report = lesson_similarity("9.9", sources)
    x, y = report.documents["x"], report.documents["y"]
    left = marked_lines(x, y)
    assert [shared for _, _, shared in left] == [True, True, True, True]
    pair = report.pairs[0]
    html = similarity_html("9.9", [PairRow(pair.a, pair.b, pair.score, pair.shared)],
                           [SideBySide(pair.a, pair.b, pair.score, SimilaritySide("x", left),
                                       SimilaritySide("y", marked_lines(y, x)))], [])
    assert "&#39;&lt;script&gt;&#39;" in html and "<script>" not in html
    assert html.count('class="line match"') == 8


def test_the_similarity_command_reads_folders_and_zips(tmp_path: Path) -> None:
    import zipfile

    from click.testing import CliRunner

    from loopgrader.cli.main import cli

    subs = tmp_path / "subs"
    for name, source in (("ann", LESSON / "alternatives" / "matmul_mv.py"),
                         ("bob", LESSON / "alternatives" / "einsum_and_inplace.py"),
                         ("cy", LESSON / "mutants" / "grad_sign_flipped.py")):
        path = subs / name / "1.2" / "linear_regression.py"
        path.parent.mkdir(parents=True)
        path.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    with zipfile.ZipFile(subs / "dee.zip", "w") as archive:
        archive.writestr("exercises/1.2/linear_regression.py", PLANTED.read_text())
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["similarity", str(subs), "--out", str(out), "--lessons",
                                      "1.2", "--course", str(ROOT), "--top", "2"])
    assert result.exit_code == 0, result.output
    assert "1.2: most alike ann and dee (1.000)" in result.output
    rows = (out / "similarity" / "1.2.csv").read_text().splitlines()
    assert rows[0] == "rank,student_a,student_b,score,shared" and len(rows) == 1 + 6
    assert rows[1].startswith("1,ann,dee,1.0000,")
    html = (out / "similarity" / "1.2.html").read_text()
    assert html.count('<h2 id="pair-') == 2 and "never a verdict" in html
