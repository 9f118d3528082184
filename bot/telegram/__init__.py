"""Lotsen's Telegram adapter: the application factory, one handler module per feature, durable polling and webhook.

May import: `bot.ops`, `bot.core`, `bot.knowledge`, `bot.storage`, `bot.text`, `bot.errors`,
`bot.config`. Never `bot.cli`.
"""
