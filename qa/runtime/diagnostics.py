"""What runs the models and from which files: ``qa doctor``'s report, and rebuilding the ONNX files."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from qa.answering.reader import (
    SHIPPED_WEIGHTS_SHA256,
    WEIGHTS_DIR,
    WEIGHTS_FILE,
    ReaderConfig,
    reader_folder,
)
from qa.config import DEFAULT_MODEL, Settings
from qa.runtime.embedding import BUNDLED_MODEL_SHA256, file_sha256, model_identity, resolve_model
from qa.runtime.onnx_build import OnnxFile, build

PACKAGES = ("onnxruntime", "tokenizers", "torch", "sentence-transformers", "transformers")


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One file the models are loaded from, with its SHA-256 and the one it must have."""

    role: str
    path: Path
    sha256: str | None  # None: the file is not there
    expected: str | None  # None: nothing recorded yet (an ONNX file not built)

    @property
    def status(self) -> str:
        """``ok``, ``missing``, ``not built`` or ``mismatch``."""
        if self.sha256 is None:
            return "not built" if self.role.startswith("onnx") else "missing"
        return "ok" if self.sha256 == self.expected else "mismatch"


@dataclass(frozen=True, slots=True)
class RuntimeReport:
    """``qa doctor``: the runtime, the installed versions that matter and every model file in use."""

    runtime: str
    model: str
    reader: str
    quantize: bool
    versions: dict[str, str]
    files: list[ModelFile]

    @property
    def healthy(self) -> bool:
        """True when every file is there and matches (an ONNX file not built yet is built on first use)."""
        return all(f.status in ("ok", "not built") for f in self.files)


def _checked(role: str, path: Path, expected: str | None) -> ModelFile:
    return ModelFile(role, path, file_sha256(path) if path.is_file() else None, expected)


def onnx_files(settings: Settings) -> list[tuple[OnnxFile, Path | None]]:
    """The ONNX files these settings answer with, each with the reader weights it is made from."""
    from qa.runtime.onnx_runtime import encoder_file, reader_file

    if settings.model_runtime() != "onnx":
        return []
    wanted: list[tuple[OnnxFile, Path | None]] = []
    if model_identity(settings.model) == DEFAULT_MODEL:
        wanted.append((encoder_file(settings.onnx_dir), None))
    if settings.reader != "off":
        weights = reader_folder(settings.reader) / WEIGHTS_FILE
        digest = file_sha256(weights) if weights.is_file() else ""
        wanted.append((reader_file(settings.onnx_dir, digest, settings.quantize), weights))
    return wanted


def runtime_report(settings: Settings) -> RuntimeReport:
    """What ``settings`` answer with; hashes every file in full (never trusts the memo of an earlier
    load, ``qa.runtime.onnx_runtime.ready``), loads no model."""
    files: list[ModelFile] = []
    if model_identity(settings.model) == DEFAULT_MODEL:
        base = Path(resolve_model(settings.model, verify=False)[0])
        for name, digest in BUNDLED_MODEL_SHA256.items():
            files.append(_checked(f"encoder {name}", base / name, digest))
    if settings.reader != "off":
        folder = reader_folder(settings.reader)
        pinned = (
            SHIPPED_WEIGHTS_SHA256
            if folder.resolve() == WEIGHTS_DIR
            else ReaderConfig.load(folder).weights_sha256
        )
        files.append(_checked("reader weights", folder / WEIGHTS_FILE, pinned))
    for onnx, _ in onnx_files(settings):
        files.append(_checked(f"onnx {onnx.kind} ({onnx.precision})", onnx.path, onnx.recorded_sha256()))
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return RuntimeReport(
        settings.model_runtime(),
        model_identity(settings.model),
        settings.reader,
        settings.quantize,
        versions,
        files,
    )


def rebuild(settings: Settings) -> RuntimeReport:
    """Make the ONNX files of these settings again from the pinned weights, then report."""
    base, _ = resolve_model("default", settings.verify_model)
    for onnx, weights in onnx_files(settings):
        onnx.record.unlink(missing_ok=True)  # without its record the file counts as never built
        build(onnx, base, weights)
    return runtime_report(settings)
