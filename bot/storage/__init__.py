"""Storage: the only package that speaks SQL, one SQLite file behind one connection.

May import: `bot.text` (a second redaction before anything is written), `bot.errors`,
`bot.config`. Never the knowledge base, the router or an adapter.
"""
