"""Shared fixtures: the shipped knowledge base and its router (loaded once per session), and the bot harness."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fakebotapi import TOKEN, FakeBotAPI

from bot.config import Settings
from bot.core.encoder import MODEL_KEY, Encoder
from bot.core.router import Router
from bot.core.vectors import EmbeddingCache, read_vectors, text_key, write_vectors
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_knowledge

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    """The knowledge base exactly as shipped in knowledge/ and contacts.yaml."""
    return load_knowledge(ROOT / "knowledge", ROOT / "contacts.yaml")


class RememberingEncoder(Encoder):
    """The real encoder, whose vectors of test messages are kept on disk between test runs.

    The labelled sets in tests/data hold over 5,000 questions; encoding them is most
    of the suite's work (about 100 ms of CPU each) and gives the same vectors every
    run, since the model is pinned. So the session router remembers each vector
    under the model and a hash of the text (`bot.core.vectors.text_key`) in the
    developer's cache directory, beside the knowledge base's own, and the engine
    encodes only texts it has not seen. A first run (CI, a new machine) encodes
    everything. Only test texts pass through here; the bot's own encoder never
    writes a message anywhere.
    """

    def __init__(self, path: Path | None) -> None:
        super().__init__()
        self.path = path
        self._known = read_vectors(path)
        self._fresh: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], *, timeout: float | None = None) -> np.ndarray | None:
        keys = [text_key(t) for t in texts]
        with self._lock:
            unknown = [t for t, k in zip(texts, keys, strict=True) if k not in self._known]
        if unknown:
            fresh = super().embed(unknown, timeout=timeout)
            if fresh is None:
                return None
            with self._lock:
                for text, vector in zip(unknown, fresh, strict=True):
                    self._known[text_key(text)] = self._fresh[text_key(text)] = vector
        with self._lock:
            return np.stack([self._known[k] for k in keys]) if keys else super().embed([])

    def save(self) -> None:
        """Adds this session's new vectors to the file (under a lock: test workers share it)."""
        if self.path is None or not self._fresh:
            return
        with contextlib.suppress(OSError), open(f"{self.path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            write_vectors(self.path, {**read_vectors(self.path), **self._fresh})


@pytest.fixture(scope="session")
def router(kb: KnowledgeBase) -> Iterator[Router]:
    """A router over the shipped knowledge base, with the sentence encoder as `lotsen` runs it."""
    settings = Settings.from_env({"HOME": os.environ.get("HOME", "")})
    cache = settings.cache_dir
    encoder = RememberingEncoder(cache / f"test-vectors-{MODEL_KEY}.npz" if cache else None)
    yield Router(kb, encoder=encoder, cache=EmbeddingCache(cache))
    encoder.save()
    encoder.close()


# --------------------------------------------------------------------------- Telegram bot
# The bot tests run the real Application (bot.telegram.app.build_application) with a real
# SQLite file against the fake Bot API in tests/fakebotapi.py. Nothing Lotsen owns is mocked.

ADMIN_ID = 4242  # the process leader in LOTSEN_ADMINS
CURATOR_CHAT = -100777  # LOTSEN_CURATOR_CHAT
TEST_SECRET = "test-secret-for-pseudonyms-0123456789abcdef"


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotAPI]:
    """A fake Bot API on 127.0.0.1; a Bot API method it does not know fails the test."""
    api = FakeBotAPI()
    await api.start()
    try:
        yield api
    finally:
        await api.stop()
    assert not api.unexpected, f"the bot called Bot API methods the fake does not know: {api.unexpected}"


@pytest.fixture
def bot_settings(tmp_path: Path, fake_api: FakeBotAPI) -> Settings:
    """Settings pointing at the fake Bot API and a fresh database file in tmp_path."""
    return Settings(
        knowledge_dir=ROOT / "knowledge",
        contacts_file=ROOT / "contacts.yaml",
        telegram_token=TOKEN,
        bot_api_url=fake_api.base_url,
        db_path=tmp_path / "lotsen.sqlite3",
        admins=frozenset({ADMIN_ID}),
        curator_chat=CURATOR_CHAT,
        secret=TEST_SECRET,
        retention_days=365,
    )


@dataclass
class RunningBot:
    """A started Lotsen: its Application and its Services (storage, kb, router)."""

    application: object
    services: object
    stop: asyncio.Event
    api: FakeBotAPI

    async def idle(self, timeout: float = 10.0) -> None:
        """Waits until every update the fake has queued is confirmed and handled (inbox empty)."""
        async with asyncio.timeout(timeout):
            while self.api.unconfirmed or await self.services.storage.inbox.pending(1):
                await asyncio.sleep(0.02)


@pytest.fixture
def start_bot(
    bot_settings: Settings, kb: KnowledgeBase, fake_api: FakeBotAPI
) -> Callable[..., AbstractAsyncContextManager[RunningBot]]:
    """`async with start_bot() as bot:` runs Lotsen (durable polling) until the block ends.

    Pass settings= or kb= to run a variant; call it again to "restart" on the same database.
    """
    from bot.telegram.app import build_application, running
    from bot.telegram.polling import serve_polling

    @asynccontextmanager
    async def start(settings: Settings | None = None, knowledge: KnowledgeBase | None = None,
                    *, load_kb: bool = False) -> AsyncIterator[RunningBot]:
        settings = settings or bot_settings
        application = build_application(settings, kb=None if load_kb else (knowledge or kb))
        stop = asyncio.Event()
        async with running(application, stop) as services:
            task = asyncio.create_task(serve_polling(application, stop, poll_timeout=1))
            try:
                yield RunningBot(application, services, stop, fake_api)
            finally:
                stop.set()
                await task

    return start


@pytest.fixture
async def lotsen(start_bot: Callable[..., AbstractAsyncContextManager[RunningBot]]) -> AsyncIterator[RunningBot]:
    """Lotsen running against the fake Bot API with the shipped knowledge base."""
    async with start_bot() as bot:
        yield bot
