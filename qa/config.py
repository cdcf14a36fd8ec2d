"""The one settings object: every option, its ``QA_`` environment variable and its default."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa.models import Confidence, Mode

DEFAULT_MODEL = "all-MiniLM-L6-v2"
READ_PASSAGES = 5  # passages the reader reads per question by default (QA_READ_PASSAGES; docs/eval.md)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | float) -> float:
    """Seconds in a duration such as ``30s``, ``15m``, ``1h``, ``1d`` or a bare number of seconds."""
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 1h)")
        seconds = float(match.group(1)) * _SECONDS[(match.group(2) or "s").lower()]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_chat_ids(value: str) -> frozenset[int]:
    """The chat ids in a comma-separated list such as ``12, -100345`` (empty: none)."""
    ids = set()
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            ids.add(int(part))
        except ValueError:
            raise ValueError(
                f"must be comma-separated chat ids (whole numbers): {part!r} is not one"
            ) from None
    return frozenset(ids)


def default_index_dir() -> Path:
    """Per-user data directory: ``$XDG_DATA_HOME/qa-bot/index`` (``~/.local/share/qa-bot/index``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "qa-bot" / "index"


def default_onnx_dir() -> Path:
    """Per-user cache of the ONNX files made from the models: ``$XDG_CACHE_HOME/qa-bot/onnx``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qa-bot" / "onnx"


def bundled_seeds_dir() -> Path | None:
    """The article corpus shipped with qa-bot: in the wheel, or beside ``qa/`` in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "seeds", here.parent / "seeds"):
        if candidate.is_dir():
            return candidate
    return None


class Settings(BaseSettings):
    """All of qa-bot's settings; environment variables use the ``QA_`` prefix, ``.env`` is read."""

    model_config = SettingsConfigDict(
        env_prefix="QA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    index_dir: Path = Field(default_factory=default_index_dir, description="Index directory.")
    model: str = Field(
        DEFAULT_MODEL,
        description="Embedding model: the bundled all-MiniLM-L6-v2, a sentence-transformers name or a path.",
    )
    device: str = Field(
        "auto", description="Where torch runs the models (QA_RUNTIME=torch): auto, cpu, cuda, cuda:1, mps."
    )
    runtime: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="What runs the models: onnx (ONNX Runtime on the CPU), torch, or auto (torch when "
        "QA_DEVICE names a GPU, else onnx). Another QA_MODEL than the bundled one always runs on torch.",
    )
    quantize: bool = Field(True, description="Run the reader with int8 weights on ONNX Runtime (0: fp32).")
    onnx_dir: Path = Field(
        default_factory=default_onnx_dir, description="Where the ONNX files made from the models are kept."
    )
    seeds_dir: Path | None = Field(
        default_factory=bundled_seeds_dir, description="Corpus indexed when no index exists yet."
    )
    top_k: int = Field(3, ge=1, le=50, description="Answers returned per question.")
    mode: Mode = Field("hybrid", description="Retrieval mode.")
    reader: str = Field(
        "default",
        description="Answer reader: default (the trained reader shipped in qa/weights), off (the sentence "
        "picker), or a folder holding reader.json and reader.safetensors.",
    )
    read_passages: int = Field(
        READ_PASSAGES,
        ge=1,
        le=50,
        description="Passages the reader reads per question, in one batched forward pass (docs/eval.md "
        "measures 5, 8 and 10).",
    )
    abstain_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Answers scoring below this are withheld (unset: the reader's calibrated default, "
        "0.015 for the picker).",
    )
    max_question_chars: int = Field(1000, ge=10, description="Longest question accepted.")
    index_type: Literal["auto", "flat", "ivf", "ivf-sq8"] = Field(
        "auto", description="Vector index: auto (exact below the threshold, IVF above), flat, ivf, ivf-sq8."
    )
    index_threshold: int = Field(50_000, ge=1, description="Vectors above which auto switches to IVF.")
    store: Literal["local", "milvus"] = Field(
        "local",
        description="Where the index lives: local (SQLite and FAISS in the index directory) or milvus "
        "(install qa-bot[milvus]).",
    )
    milvus_uri: str = Field(
        "qa-milvus.db",
        description="Milvus to use with QA_STORE=milvus: a local file path ending in .db (Milvus Lite, "
        "embedded; relative to the index directory) or a server URL such as http://host:19530.",
    )
    milvus_token: str = Field("", description="Milvus token, user:password or an API key (none for Lite).")
    milvus_collection: str = Field(
        "qa", description="Prefix of the archive's Milvus collections (qa_chunks, qa_articles, ...)."
    )
    max_file_bytes: int = Field(50_000_000, ge=1, description="Larger files are skipped when indexing.")
    lock_timeout: float = Field(30.0, ge=0, description="Seconds to wait for another indexing run.")
    batch_size: int = Field(0, ge=0, description="Texts per embedding batch (0: 16 on a CPU, 256 on a GPU).")
    verify_model: bool = Field(True, description="Check the bundled model's files against SHA-256 sums.")

    # Fetching feeds, sitemaps and pages
    fetch_delay: float = Field(1.0, ge=0, description="Seconds between two requests to the same host.")
    fetch_timeout: float = Field(20.0, gt=0, description="Seconds one request may take, body included.")
    fetch_max_bytes: int = Field(10_000_000, ge=1, description="Larger responses are not read.")
    fetch_max_pages: int = Field(
        10_000, ge=1, description="Pages read from one feed or sitemap (a sitemap index's sitemaps together)."
    )
    fetch_allow_private: bool = Field(
        False,
        description="Let the server fetch loopback, private, link-local and multicast addresses (feeds, "
        "webhooks); the CLI's own commands always may.",
    )
    refresh: float = Field(
        0.0, description="Poll the feeds this often while serving (30s, 15m, 1h; 0: never)."
    )

    # HTTP service
    host: str = Field("127.0.0.1", description="HTTP bind address.")
    port: int = Field(8000, ge=0, le=65535, description="HTTP port.")
    api_key: str | None = Field(None, description="Bearer key; required for document changes.")
    cors_origins: str = Field("", description="Comma-separated origins allowed by CORS (off if empty).")
    rate_limit: int = Field(60, ge=0, description="Requests per minute per client (0: no limit).")
    max_upload_bytes: int = Field(10_000_000, ge=1, description="Largest request body or upload.")

    # Telegram bot
    telegram_token: str | None = Field(
        None,
        validation_alias=AliasChoices("QA_TELEGRAM_TOKEN", "TELEGRAM_BOT_TOKEN", "telegram_token"),
        description="Bot token (TELEGRAM_BOT_TOKEN also works).",
    )
    telegram_base_url: str = Field(
        "https://api.telegram.org/bot", description="Bot API base URL; the token is appended."
    )
    telegram_allowed_chats: str = Field("", description="Comma-separated chat or user ids (all if empty).")
    telegram_rate_limit: int = Field(20, ge=0, description="Messages per minute per chat (0: no limit).")

    # Watches: questions asked again as articles arrive
    watch_min_confidence: Confidence = Field(
        "likely", description="New answers to a watch are sent from this confidence up: sure, likely, unsure."
    )
    watch_limit: int = Field(20, ge=1, description="Watches one chat may keep.")
    watch_poll: float = Field(
        30.0, gt=0, description="How often a running bot or server sends the watches' new answers (10s, 1m)."
    )
    webhook_timeout: float = Field(10.0, gt=0, description="Seconds a watch's webhook may take to answer.")

    @field_validator("refresh", "watch_poll", mode="before")
    @classmethod
    def _duration(cls, value: str | float) -> float:
        return parse_duration(value)

    @field_validator("telegram_allowed_chats")
    @classmethod
    def _chat_ids(cls, value: str) -> str:
        parse_chat_ids(value)  # refused when the settings are read, not when the bot starts
        return value

    def model_runtime(self) -> Literal["onnx", "torch"]:
        """What runs the models: ``runtime``, with ``auto`` resolved by ``device``."""
        if self.runtime != "auto":
            return self.runtime
        return "onnx" if self.device in ("auto", "cpu") else "torch"

    def milvus_location(self) -> str:
        """``milvus_uri`` with a relative Milvus Lite path resolved inside the index directory."""
        uri = self.milvus_uri
        if uri.startswith(("http://", "https://", "tcp://", "unix:")) or Path(uri).expanduser().is_absolute():
            return uri
        return str(self.index_dir / uri)

    def index_dir_chosen(self) -> bool:
        """True when the index directory was chosen (``--index-dir``, ``QA_INDEX_DIR``, ``.env``).

        Only the default location may build itself from the seeds: a chosen one that holds no index
        is most likely mistyped, and is created by ``qa index`` alone.
        """
        return "index_dir" in self.model_fields_set

    def index_chosen(self) -> bool:
        """True when the archive's location was chosen: the index directory, or with ``QA_STORE=milvus``
        also the Milvus URI or collection (only the default archive builds itself from the seeds)."""
        milvus = {"milvus_uri", "milvus_collection"} if self.store == "milvus" else set()
        return self.index_dir_chosen() or bool(milvus & self.model_fields_set)

    def allowed_chat_ids(self) -> frozenset[int]:
        """The Telegram allowlist as integers (empty: everyone)."""
        return parse_chat_ids(self.telegram_allowed_chats)

    def cors_origin_list(self) -> list[str]:
        """CORS origins as a list (empty: CORS off)."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


def setting_variables() -> set[str]:
    """The environment variables that settings read (upper case: they are read in any case)."""
    names: set[str] = set()
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(name).upper() for name in alias.choices if str(name) != field)
        else:
            names.add(f"QA_{field}".upper())
    return names


def env_file_problems(path: Path = Path(".env")) -> list[str]:
    """The ``QA_`` keys of a ``.env`` file that no setting reads (with the nearest one), which would
    otherwise be ignored without a word (python-dotenv itself warns of a line it cannot read)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    known = setting_variables()
    problems = []
    for number, line in enumerate(lines, start=1):
        key = line.strip().removeprefix("export ").partition("=")[0].strip().upper()
        if key.startswith("QA_") and key not in known:
            near = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            problems.append(f"{path}:{number}: {key} is no setting, ignored{hint}")
    return problems
