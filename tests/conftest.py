"""Shared fixtures: the shipped knowledge base and its router (loaded once per session), and the bot harness."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakebotapi import TOKEN, FakeBotAPI

from bot.config import Settings
from bot.knowledge import KnowledgeBase, load_knowledge
from bot.router import Router

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    """The knowledge base exactly as shipped in knowledge/ and contacts.yaml."""
    return load_knowledge(ROOT / "knowledge", ROOT / "contacts.yaml")


@pytest.fixture(scope="session")
def router(kb: KnowledgeBase) -> Router:
    """A router over the shipped knowledge base, with the sentence encoder as `lotsen` runs it."""
    return Router.for_settings(kb, Settings.from_env({"HOME": os.environ.get("HOME", "")}))


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
            while self.api.unconfirmed or await self.services.storage.pending_updates(1):
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
