"""Shared fixtures: the shipped knowledge base and its router, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.knowledge import KnowledgeBase, load_knowledge
from bot.router import Router

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    """The knowledge base exactly as shipped in knowledge/ and contacts.yaml."""
    return load_knowledge(ROOT / "knowledge", ROOT / "contacts.yaml")


@pytest.fixture(scope="session")
def router(kb: KnowledgeBase) -> Router:
    """A router over the shipped knowledge base."""
    return Router(kb)
