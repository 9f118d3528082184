"""The command line (`lotsen …`) and the console conversation: an adapter, like Telegram.

May import: everything below it, `bot.telegram` included (`lotsen kor` starts the bot).
Nothing imports it but `bot.__main__` and the `lotsen` entry point.
"""
