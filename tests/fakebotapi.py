"""A fake Telegram Bot API server on 127.0.0.1 for end-to-end tests.

It speaks the real HTTP protocol at ``/bot<token>/<method>`` (form-encoded or
multipart requests, ``{"ok": true, "result": ...}`` answers), so the bot under
test runs its real python-telegram-bot stack against it, unchanged.

What it does:

- keeps a queue of updates and serves ``getUpdates`` with Telegram's offset
  semantics (an update is confirmed — and dropped — once ``getUpdates`` is
  called with a higher offset) and long polling (``timeout``);
- delivers updates to a webhook instead, once ``setWebhook`` was called
  (with the secret header), retrying while the bot answers non-2xx, as Telegram does;
- records every message the bot sends, edits or uploads, per chat;
- injects faults: the next N calls of a method answer 429 (with retry_after),
  500, 403, …;
- answers any method it does not know with 404 *and* records it in
  ``unexpected``, which the ``fake_api`` fixture turns into a test failure.

Tests talk to it through `FakeUser`: ``await anna.send("text")`` queues a
message from Anna, ``await anna.next_message()`` waits for the bot's next
message to her chat, ``await anna.press(message, "role:larare")`` presses a
button under a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "123456789:AAFakeTokenForLotsenTestsOnly_abcdefghij"
BOT_ID = 123456789
BOT_USERNAME = "lotsen_test_bot"

# Parameters whose value PTB JSON-encodes (everything else is sent as a plain string).
_JSON_PARAMS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "reply_markup",
        "commands",
        "allowed_updates",
        "drop_pending_updates",
        "show_alert",
        "cache_time",
        "disable_notification",
        "protect_content",
        "link_preview_options",
        "reply_parameters",
        "entities",
        "caption_entities",
        "max_connections",
        "scope",
        "message_thread_id",
        "disable_web_page_preview",
    }
)

# Methods that put a new message into a chat.
_SENDING = frozenset({"sendMessage", "sendPhoto", "sendDocument"})


_ALLOWED_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
     "blockquote", "tg-emoji"}
)
_MARKUP = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^<>]*)>|&(#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);|[<&]")


def html_error(text: str) -> str | None:
    """What Telegram would reject in `text` with parse_mode=HTML, or None if it parses."""
    stack: list[str] = []
    for m in _MARKUP.finditer(text):
        token = m.group(0)
        if token in ("<", "&"):
            return f"Bad Request: can't parse entities: unescaped {token!r} at byte offset {m.start()}"
        if token.startswith("&"):
            continue
        closing, name = m.group(1), m.group(2).lower()
        if name not in _ALLOWED_TAGS:
            return f"Bad Request: can't parse entities: unsupported start tag \"{name}\""
        if not closing:
            stack.append(name)
        elif not stack or stack.pop() != name:
            return f"Bad Request: can't parse entities: can't find end tag corresponding to start tag \"{name}\""
    if stack:
        return f"Bad Request: can't parse entities: can't find end tag corresponding to start tag \"{stack[-1]}\""
    return None


def utf16_len(text: str) -> int:
    """Length of `text` as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Fault:
    """One injected failure: the HTTP status and Bot API error to answer with."""

    status: int
    description: str
    retry_after: int | None = None
    delay: float = 0.0  # seconds to wait before answering (to provoke client timeouts)
    deliver: bool = False  # perform the call anyway (a reply lost after the message was sent)
    chat_id: int | None = None  # only calls to this chat fail (None: any call of the method)


@dataclass
class Sent:
    """A message the bot sent (or a later edit of it), as the fake recorded it."""

    method: str
    chat_id: int
    message_id: int
    text: str | None
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    payload: dict[str, Any]  # the Message object the fake answered with
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # field -> (filename, bytes)

    def buttons(self) -> list[tuple[str, str]]:
        """The inline buttons as (label, callback_data), row by row."""
        markup = self.reply_markup or {}
        return [
            (b.get("text", ""), b.get("callback_data", ""))
            for row in markup.get("inline_keyboard", [])
            for b in row
        ]

    def button(self, label_part: str) -> str:
        """The callback_data of the first button whose label contains `label_part`."""
        for label, data in self.buttons():
            if label_part.lower() in label.lower():
                return data
        raise AssertionError(f"no button containing {label_part!r}; buttons are {self.buttons()!r}")


class FakeBotAPI:
    """The fake server. Start it with `await api.start()`; `base_url` is what the bot needs."""

    def __init__(self, token: str = TOKEN, *, username: str = BOT_USERNAME) -> None:
        self.token = token
        self.username = username
        self.port = 0
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.unexpected: list[str] = []
        self.commands: list[dict[str, Any]] | None = None
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.messages: list[Sent] = []  # every new message, in order
        self.edits: list[Sent] = []  # every edit, in order
        self.callback_answers: list[dict[str, Any]] = []
        self.blocked_chats: set[int] = set()
        self._updates: list[dict[str, Any]] = []  # not yet confirmed
        self.history: list[dict[str, Any]] = []  # every update ever queued
        self._update_ids = itertools.count(10_000)
        self._message_ids: dict[int, itertools.count] = {}
        self._user_message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._faults: dict[str, list[Fault]] = {}
        self._outages: dict[str, tuple[int, float]] = {}
        self._changed = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._deliveries: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._closing = True
        async with self._changed:
            self._changed.notify_all()
        for task in list(self._deliveries):
            task.cancel()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """Value for LOTSEN_BOT_API_URL (the token is appended by PTB)."""
        return f"http://127.0.0.1:{self.port}/bot"

    # ------------------------------------------------------------------ test helpers

    def user(self, user_id: int, first_name: str = "Anna") -> FakeUser:
        """A private chat with a person; the chat id equals the user id, as in Telegram."""
        return FakeUser(self, user_id, first_name)

    def group(self, chat_id: int, user: FakeUser, title: str = "Elevhälsan") -> FakeUser:
        """`user` writing in a group chat (negative chat id)."""
        return FakeUser(self, user.id, user.first_name, chat_id=chat_id, chat_type="group", title=title)

    def fail(
        self,
        method: str,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
        delay: float = 0.0,
        deliver: bool = False,
        chat_id: int | None = None,
    ) -> None:
        """Makes the next `times` calls of `method` (to `chat_id`, if given) fail with `status` (429 gets retry_after)."""
        text = description or {
            429: f"Too Many Requests: retry after {retry_after}",
            500: "Internal Server Error",
            502: "Bad Gateway",
            403: "Forbidden: bot was blocked by the user",
            400: "Bad Request: something is wrong",
        }.get(status, "Error")
        self._faults.setdefault(method, []).extend(
            Fault(status, text, retry_after, delay, deliver, chat_id) for _ in range(times)
        )

    def fail_for(self, method: str, status: int, seconds: float) -> None:
        """Makes every call of `method` fail with `status` for the next `seconds` (an outage)."""
        self._outages[method] = (status, time.monotonic() + seconds)

    def push_raw(self, update: dict[str, Any]) -> None:
        """Queues an update exactly as given (its update_id too): for malformed updates."""
        self._updates.append(update)
        self.history.append(update)
        if self.webhook_url:
            task = asyncio.get_running_loop().create_task(self._deliver(update))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        else:
            asyncio.get_running_loop().create_task(self._notify())

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    def push_update(self, update: dict[str, Any]) -> int:
        """Queues an update (assigning its update_id) for getUpdates or the webhook."""
        update_id = next(self._update_ids)
        self.push_raw({"update_id": update_id, **update})
        return update_id

    def next_update_id(self) -> int:
        """Takes the next update_id (for an update built by hand and queued with push_raw)."""
        return next(self._update_ids)

    def redeliver(self, update_id: int) -> None:
        """Queues an already confirmed update again, as Telegram does when it missed the confirmation."""
        update = next(u for u in self.history if u["update_id"] == update_id)
        self._updates.append(update)
        self._updates.sort(key=lambda u: u["update_id"])
        asyncio.get_running_loop().create_task(self._notify())

    @property
    def unconfirmed(self) -> list[int]:
        """update_ids Telegram would still redeliver."""
        return [u["update_id"] for u in self._updates]

    async def wait_for(self, predicate, timeout: float = 30.0) -> None:  # noqa: ANN001
        """Waits until `predicate()` is true (checked after every call the bot makes).

        The timeout is generous: it only bounds a failing test, and a reload on a loaded machine
        (two cores, several test workers) may take seconds.
        """
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    def messages_to(self, chat_id: int) -> list[Sent]:
        return [m for m in self.messages if m.chat_id == chat_id]

    # ------------------------------------------------------------------ HTTP

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        self.unexpected.append(f"file download {request.match_info['path']}")
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        params, files = await self._params(request)
        self.calls.append((method, params))
        try:
            fault = self._take_fault(method, params)
            if fault is not None:
                if fault.deliver:
                    await self._dispatch(method, params, files)
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                body: dict[str, Any] = {"ok": False, "error_code": fault.status, "description": fault.description}
                if fault.retry_after is not None:
                    body["parameters"] = {"retry_after": fault.retry_after}
                return web.json_response(body, status=fault.status)
            return await self._dispatch(method, params, files)
        finally:
            await self._notify()

    def _take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        status, until = self._outages.get(method, (0, 0.0))
        if time.monotonic() < until:
            return Fault(status, "Internal Server Error" if status >= 500 else "Error")
        queue = self._faults.get(method) or []
        for i, fault in enumerate(queue):
            if fault.chat_id is None or str(fault.chat_id) == str(params.get("chat_id")):
                return queue.pop(i)
        return None

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
        params: dict[str, Any] = {}
        files: dict[str, tuple[str, bytes]] = {}
        if request.content_type == "application/json":
            params = await request.json()
        else:
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files[name] = (value.filename, value.file.read())
                elif name in _JSON_PARAMS:
                    try:
                        params[name] = json.loads(value)
                    except ValueError:
                        params[name] = value
                else:
                    params[name] = value
        params.update(request.query)
        return params, files

    def _ok(self, result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    def _error(self, status: int, description: str) -> web.Response:
        return web.json_response({"ok": False, "error_code": status, "description": description}, status=status)

    async def _dispatch(self, method: str, p: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> web.Response:
        if method == "getMe":
            return self._ok(self._bot_user() | {"can_join_groups": True, "can_read_all_group_messages": False,
                                                "supports_inline_queries": False})
        if method == "getUpdates":
            return await self._get_updates(p)
        if method == "setWebhook":
            self.webhook_url = p.get("url") or None
            self.webhook_secret = p.get("secret_token")
            for update in list(self._updates):
                task = asyncio.get_running_loop().create_task(self._deliver(update))
                self._deliveries.add(task)
                task.add_done_callback(self._deliveries.discard)
            return self._ok(True)
        if method == "deleteWebhook":
            self.webhook_url = None
            if p.get("drop_pending_updates"):
                self._updates.clear()
            return self._ok(True)
        if method == "setMyCommands":
            self.commands = p.get("commands")
            return self._ok(True)
        if method in ("sendChatAction", "deleteMyCommands"):
            return self._ok(True)
        if method == "answerCallbackQuery":
            self.callback_answers.append(p)
            return self._ok(True)
        if method in _SENDING:
            return self._send(method, p, files)
        if method in ("editMessageText", "editMessageReplyMarkup"):
            return self._edit(method, p)
        self.unexpected.append(method)
        return self._error(404, f"Not Found: method {method} is not faked")

    async def _get_updates(self, p: dict[str, Any]) -> web.Response:
        if self.webhook_url:
            return self._error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(p.get("offset") or 0)
        limit = int(p.get("limit") or 100)
        timeout = float(p.get("timeout") or 0)
        if offset:
            # Everything below the offset is confirmed: Telegram forgets it.
            # An update without an id (malformed on purpose) goes with the first confirmation.
            self._updates = [u for u in self._updates if u.get("update_id", -1) >= offset]
        deadline = time.monotonic() + timeout
        while not self._updates and not self._closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._changed.wait_for(lambda: bool(self._updates) or self._closing)
        return self._ok(self._updates[:limit])

    def _bot_user(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Lotsen", "username": self.username}

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id < 0:
            return {"id": chat_id, "type": "group", "title": "Grupp"}
        return {"id": chat_id, "type": "private", "first_name": "Person"}

    def _send(self, method: str, p: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> web.Response:
        chat_id = int(p["chat_id"])
        if chat_id in self.blocked_chats:
            return self._error(403, "Forbidden: bot was blocked by the user")
        text = p.get("text") if method == "sendMessage" else p.get("caption")
        if method == "sendMessage":
            if not text:
                return self._error(400, "Bad Request: message text is empty")
            if utf16_len(text) > 4096:
                return self._error(400, "Bad Request: message is too long")
        elif text and utf16_len(text) > 1024:
            return self._error(400, "Bad Request: message caption is too long")
        if text and p.get("parse_mode") == "HTML" and (problem := html_error(text)):
            self.unexpected.append(f"{method} with invalid HTML: {problem}")
            return self._error(400, problem)
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        message_id = next(counter)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": self._bot_user(),
        }
        if method == "sendMessage":
            message["text"] = text
        elif text:
            message["caption"] = text
        if method == "sendPhoto":
            message["photo"] = [{"file_id": f"photo{message_id}", "file_unique_id": f"up{message_id}",
                                 "width": 800, "height": 800}]
        if method == "sendDocument":
            filename = next(iter(files.values()))[0] if files else "document"
            message["document"] = {"file_id": f"doc{message_id}", "file_unique_id": f"ud{message_id}",
                                   "file_name": filename}
        markup = p.get("reply_markup")
        if markup:
            message["reply_markup"] = markup
        sent = Sent(method, chat_id, message_id, text, p.get("parse_mode"), markup or None, message, files)
        self.messages.append(sent)
        return self._ok(message)

    def _edit(self, method: str, p: dict[str, Any]) -> web.Response:
        chat_id, message_id = int(p["chat_id"]), int(p["message_id"])
        original = next((m for m in self.messages if (m.chat_id, m.message_id) == (chat_id, message_id)), None)
        if original is None:
            return self._error(400, "Bad Request: message to edit not found")
        message = dict(original.payload)
        text = original.text
        if method == "editMessageText":
            text = p["text"]
            if p.get("parse_mode") == "HTML" and (problem := html_error(text)):
                self.unexpected.append(f"{method} with invalid HTML: {problem}")
                return self._error(400, problem)
            message["text"] = text
        markup = p.get("reply_markup")
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        original.payload = message
        original.text = text
        original.reply_markup = markup or None
        self.edits.append(Sent(method, chat_id, message_id, text, p.get("parse_mode"), markup or None, message))
        return self._ok(message)

    async def _deliver(self, update: dict[str, Any]) -> None:
        """POSTs one update to the webhook until it answers 2xx (then it is confirmed)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json"}
        if self.webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
        for _ in range(50):
            url = self.webhook_url
            if url is None or self._closing:
                return
            try:
                async with self._session.post(url, data=json.dumps(update), headers=headers) as response:
                    if 200 <= response.status < 300:
                        if update in self._updates:
                            self._updates.remove(update)
                        await self._notify()
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


class FakeUser:
    """A person (in a private chat, or in a group) talking to the bot through the fake API."""

    def __init__(
        self,
        api: FakeBotAPI,
        user_id: int,
        first_name: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        title: str | None = None,
    ) -> None:
        self.api = api
        self.id = user_id
        self.first_name = first_name
        self.chat_id = user_id if chat_id is None else chat_id
        self.chat_type = chat_type
        self.title = title
        self._seen = 0  # messages to this chat already returned by next_message

    def _from(self) -> dict[str, Any]:
        return {"id": self.id, "is_bot": False, "first_name": self.first_name, "language_code": "sv"}

    def _chat(self) -> dict[str, Any]:
        if self.chat_type == "private":
            return {"id": self.chat_id, "type": "private", "first_name": self.first_name}
        return {"id": self.chat_id, "type": self.chat_type, "title": self.title or "Grupp"}

    async def send(self, text: str) -> int:
        """Queues a text message from this user; returns its update_id."""
        message: dict[str, Any] = {
            "message_id": next(self.api._user_message_ids),
            "date": int(time.time()),
            "chat": self._chat(),
            "from": self._from(),
            "text": text,
        }
        entities = []
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
        mention = f"@{self.api.username}"
        if mention in text and not text.startswith("/"):
            start = text.index(mention)
            entities.append({"type": "mention", "offset": utf16_len(text[:start]), "length": utf16_len(mention)})
        if entities:
            message["entities"] = entities
        return self.api.push_update({"message": message})

    async def press(self, message: Sent, data: str, *, forged: bool = False) -> int:
        """Presses the inline button with callback_data `data` under `message`; returns the update_id.

        `forged=True` sends callback data that is no button under the message, as a tampered
        client can (Telegram does not check it).
        """
        available = [d for _, d in message.buttons()]
        assert forged or data in available, f"{data!r} is not a button under the message; buttons: {available}"
        query = {
            "id": str(next(self.api._callback_ids)),
            "from": self._from(),
            "chat_instance": f"ci{self.chat_id}",
            "data": data,
            "message": message.payload,
        }
        return self.api.push_update({"callback_query": query})

    @property
    def messages(self) -> list[Sent]:
        return self.api.messages_to(self.chat_id)

    async def next_message(self, timeout: float = 10.0) -> Sent:
        """Waits for the bot's next new message to this chat (not returned before)."""
        try:
            await self.api.wait_for(lambda: len(self.messages) > self._seen, timeout)
        except TimeoutError:
            raise AssertionError(
                f"no reply to chat {self.chat_id} within {timeout} s; last messages: "
                f"{[m.text for m in self.messages[-3:]]}"
            ) from None
        message = self.messages[self._seen]
        self._seen += 1
        return message

    async def ask(self, text: str, timeout: float = 10.0) -> Sent:
        """Sends `text` and returns the bot's next message."""
        await self.send(text)
        return await self.next_message(timeout)

    async def click(self, message: Sent, data: str, timeout: float = 10.0) -> Sent:
        """Presses a button and returns the bot's next new message."""
        await self.press(message, data)
        return await self.next_message(timeout)

    async def no_more_messages(self, within: float = 0.5) -> None:
        """Asserts the bot sends nothing more to this chat for `within` seconds."""
        await asyncio.sleep(within)
        extra = self.messages[self._seen :]
        assert not extra, f"unexpected extra messages: {[m.text for m in extra]}"
