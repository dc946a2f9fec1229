"""tenfold._atomic: the write path every saver and compressor uses."""

import os

import pytest

from tenfold._atomic import atomic_output, check_distinct


def test_failure_leaves_destination_and_folder_as_they_were(tmp_path):
    dst = tmp_path / "model.tfz"
    dst.write_bytes(b"old contents")
    with pytest.raises(RuntimeError):
        with atomic_output(dst) as tmp:
            tmp.write_bytes(b"half of the new")
            raise RuntimeError("disk full")
    assert dst.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tfz"]


def test_new_file_gets_umask_mode_and_existing_keeps_its_own(tmp_path):
    dst = tmp_path / "x.bin"
    with atomic_output(dst) as tmp:
        tmp.write_bytes(b"1")
    mask = os.umask(0)
    os.umask(mask)
    assert dst.stat().st_mode & 0o777 == 0o666 & ~mask   # not mkstemp's private 0600
    os.chmod(dst, 0o640)
    with atomic_output(dst) as tmp:
        tmp.write_bytes(b"2")
    assert dst.stat().st_mode & 0o777 == 0o640 and dst.read_bytes() == b"2"


def test_same_file_is_refused_through_links(tmp_path):
    src = tmp_path / "a.npy"
    src.write_bytes(b"data")
    os.link(src, tmp_path / "hard")
    os.symlink(src, tmp_path / "soft")
    for dst in (src, tmp_path / "hard", tmp_path / "soft", tmp_path / "." / "a.npy"):
        with pytest.raises(ValueError, match="same file"):
            check_distinct(src, dst)
    check_distinct(src, tmp_path / "other")   # a new path is fine


def test_missing_folder_and_directory_destination_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        with atomic_output(tmp_path / "nope" / "x"):
            pass
    with pytest.raises(ValueError, match="directory"):
        with atomic_output(tmp_path):
            pass
