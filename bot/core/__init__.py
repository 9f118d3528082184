"""The routing core: text in, `Answer` out. Pure and synchronous.

From a message to the words and places in it (`matching`), topic scores from
words (`lexical`) and meaning (`semantic`, with the encoder in child processes
and the knowledge base's vectors in `vectors`), acute risk (`risk`), the decision
(`router`), the typed answer (`answer`) and its Swedish rendering (`render`);
measuring it on labelled sets (`evaluation`) and suggesting topics for curation
(`curation_loop`).

May import: `bot.knowledge`, `bot.text`, `bot.errors`, `bot.config`. Never
`telegram`, `aiosqlite`, storage, operations or an adapter.
"""
