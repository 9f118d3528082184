"""The knowledge base: what Lotsen knows, as the process leaders curate it in YAML.

Loading and cross-checking knowledge/ and contacts.yaml (`base`), their schemas
(`schema`), the Swedish wording and line of every problem (`validation`), the
learned overlay written from /obesvarade (`learned`), and the contacts'
`verified:` write-back (`contacts_export`).

May import: `bot.text`, `bot.errors`, `bot.config`. Never storage, the router or an adapter.
"""
