"""Operations: what running Lotsen in a region needs besides answering.

One instance per database (`instance`), the heartbeat check (`health`), the last
good knowledge base (`snapshot`), log lines and their privacy filter
(`logformat`, `privacy`), and the documents made from the log: statistics,
charts and exports (`curation`), the steering group's report (`report`) and
Barnets bästa-hjulet (`wheel`).

May import: `bot.core`, `bot.knowledge`, `bot.storage`, `bot.text`, `bot.errors`,
`bot.config`. Never an adapter (`bot.telegram`, `bot.cli`).
"""
