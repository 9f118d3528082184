"""Text: Swedish words and the identifiers in them, before anything else sees a message.

Folding, stemming and clause breaks (`normalize`), and finding personal
identifiers so they can be removed (`personnummer`). Pure functions over strings.

May import: the standard library, `bot.errors`, `bot.config`. Nothing else of Lotsen.
"""
