"""Storage: the only package that speaks SQL, one SQLite file behind one connection.

`store.Storage` opens it (`database.Database`: the connection, the `BEGIN IMMEDIATE`
helper, pragmas; `migrations`: the numbered schema changes) and holds one object per
concern, each beside its table's SQL: the durable Telegram inbox (`inbox`), the question
log (`questions`), consultations (`consultations`), users and dialogues (`users`),
the process leaders' acts (`curation`), knowledge snapshots (`snapshots`), statistics
and exports (`statistics`) and the purge (`retention`). `backup` works beside a live
bot with plain sqlite3 (`lotsen sakerhetskopiera`, `lotsen halsa`).

May import: `bot.text` (a second redaction before anything is written), `bot.errors`,
`bot.config`. Never the knowledge base, the router or an adapter.
"""
