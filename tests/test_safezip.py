"""Safe extraction of students' zip files: nothing outside the target, no links, limits."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from loopgrader.batch.safezip import ZipLimits, extract_zip
from loopgrader.errors import SubmissionError


def make_zip(path: Path, entries: dict[str, bytes], *, mode: int | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


def test_a_plain_archive_is_extracted(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {"alice/1.1/calc.py": b"x = 1\n", "alice/": b""})
    files = extract_zip(archive, tmp_path / "out")
    assert files == [tmp_path / "out" / "alice" / "1.1" / "calc.py"]
    assert files[0].read_text() == "x = 1\n"


@pytest.mark.parametrize("name", ["../evil.py", "a/../../evil.py", "/etc/evil.py",
                                  "C:/evil.py", "a\\..\\evil.py"],
                         ids=["dotdot", "nested-dotdot", "absolute", "drive", "backslash"])
def test_paths_leaving_the_target_are_refused(tmp_path: Path, name: str) -> None:
    archive = make_zip(tmp_path / "a.zip", {"ok.py": b"1", name: b"evil"})
    with pytest.raises(SubmissionError, match="was not extracted"):
        extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing is left behind
    assert not (tmp_path / "evil.py").exists()


def test_symbolic_links_are_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {"1.1/calc.py": b"/etc/passwd"},
                       mode=stat.S_IFLNK | 0o777)
    with pytest.raises(SubmissionError, match="link or a special file"):
        extract_zip(archive, tmp_path / "out")


def test_a_zip_bomb_is_stopped_while_decompressing(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "bomb.zip", {"big.py": b"0" * (8 << 20)})
    assert archive.stat().st_size < 100_000
    with pytest.raises(SubmissionError, match="larger than"):
        extract_zip(archive, tmp_path / "out", ZipLimits(max_file_bytes=1 << 20))
    many = make_zip(tmp_path / "many.zip", {f"f{i}.py": b"0" * (600 << 10) for i in range(4)})
    with pytest.raises(SubmissionError, match="more than 2097152 bytes"):
        extract_zip(many, tmp_path / "out2", ZipLimits(max_total_bytes=2 << 20))


def test_too_many_entries_and_duplicates_are_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {f"f{i}.py": b"" for i in range(30)})
    with pytest.raises(SubmissionError, match="30 entries"):
        extract_zip(archive, tmp_path / "out", ZipLimits(max_files=20))
    twice = tmp_path / "twice.zip"
    with zipfile.ZipFile(twice, "w") as zf, pytest.warns(UserWarning, match="Duplicate"):
        zf.writestr("A.py", b"1")
        zf.writestr("A.py", b"2")
    with pytest.raises(SubmissionError, match="more than once"):
        extract_zip(twice, tmp_path / "out2")


def test_encrypted_entries_and_non_zips_are_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "enc.zip", {"secret.py": b"data"})
    raw = bytearray(archive.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set "encrypted"
        at = raw.index(signature) + offset
        raw[at] |= 0x1
    archive.write_bytes(bytes(raw))
    with pytest.raises(SubmissionError, match="encrypted"):
        extract_zip(archive, tmp_path / "out")
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"this is not a zip")
    with pytest.raises(SubmissionError, match="not a readable zip"):
        extract_zip(fake, tmp_path / "out2")
