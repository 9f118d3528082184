"""Lotsen's Telegram adapter: the application factory, one handler module per feature, durable polling and webhook."""
