"""A small fake Telegram Bot API server on 127.0.0.1: serves queued updates, records calls."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT_USER: dict[str, Any] = {
    "id": 4242,
    "is_bot": True,
    "first_name": "QA",
    "username": "qa_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
# Parameters PTB sends as JSON strings inside the form body.
_JSON_PARAMS = {
    "reply_markup",
    "commands",
    "allowed_updates",
    "link_preview_options",
    "entities",
    "results",
    "reply_parameters",
}


@dataclass(frozen=True)
class Call:
    """One Bot API request the bot made."""

    method: str
    params: dict[str, Any]


@dataclass
class _Failure:
    method: str
    code: int
    description: str
    parameters: dict[str, Any] | None = None
    chat_id: int | None = None


@dataclass
class _State:
    updates: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    chats: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_update_id: int = 1
    next_message_id: int = 1000


class FakeBotApi:
    """Bot API double: ``base_url`` for PTB, ``push_*`` to send updates, ``calls`` for replies."""

    def __init__(self, token: str = "123456:TEST-token_abcdefghijklmnop") -> None:
        self.token = token
        self._state = _State()
        self._cond = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The ``base_url`` to give python-telegram-bot (the token is appended by PTB)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/bot"

    def start(self) -> FakeBotApi:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        with self._cond:
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- updates -----------------------------------------------------------------------------

    def _chat(self, chat_id: int, chat_type: str) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = f"user{chat_id}"
        else:
            chat["title"] = f"group{chat_id}"
        self._state.chats[chat_id] = chat
        return chat

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (its ``update_id`` is assigned here)."""
        with self._cond:
            update = {"update_id": self._state.next_update_id, **update}
            self._state.next_update_id += 1
            self._state.updates.append(update)
            self._cond.notify_all()
        return update

    def push_message(
        self,
        chat_id: int,
        text: str,
        *,
        chat_type: str = "private",
        user_id: int | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Queue a text message from a user (commands and @mentions get their entities)."""
        with self._cond:
            message_id = self._state.next_message_id
            self._state.next_message_id += 1
            chat = self._chat(chat_id, chat_type)
        uid = user_id if user_id is not None else abs(chat_id)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": uid, "is_bot": False, "first_name": f"user{uid}"},
            "text": text,
        }
        if entities := _entities(text):
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        self.push_update({"message": message})
        return message

    def push_edit(self, message: dict[str, Any], text: str) -> dict[str, Any]:
        """Queue an edit of a user's ``message`` (as ``push_message`` returned it) to ``text``."""
        edited = {k: v for k, v in message.items() if k != "entities"}
        edited.update(text=text, edit_date=int(time.time()))
        if entities := _entities(text):
            edited["entities"] = entities
        self.push_update({"edited_message": edited})
        return edited

    def push_callback(self, chat_id: int, message: dict[str, Any], data: str) -> dict[str, Any]:
        """Queue a press on an inline button of ``message`` (a message the bot sent)."""
        query = {
            "id": f"cb{time.monotonic_ns()}",
            "from": {"id": abs(chat_id), "is_bot": False, "first_name": f"user{chat_id}"},
            "chat_instance": str(chat_id),
            "message": message,
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def push_inline_query(self, user_id: int, text: str) -> dict[str, Any]:
        """Queue an inline query (``@bot text`` typed by a user in any chat)."""
        query = {
            "id": f"iq{time.monotonic_ns()}",
            "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"},
            "query": text,
            "offset": "",
        }
        return self.push_update({"inline_query": query})

    def fail_next(
        self,
        method: str,
        code: int,
        description: str,
        parameters: dict[str, Any] | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Make the next call of ``method`` (to ``chat_id``, if given) fail with this error."""
        with self._cond:
            self._state.failures.append(_Failure(method, code, description, parameters, chat_id))

    # -- inspection --------------------------------------------------------------------------

    def calls(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        """Recorded calls, optionally only of one method and to one chat."""
        with self._cond:
            calls = list(self._state.calls)
        return [
            c
            for c in calls
            if (method is None or c.method == method)
            and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)
        ]

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 30.0, what: str = "a condition"
    ) -> None:
        """Block until ``predicate()`` holds (checked on every call), or fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                self._cond.release()
                try:
                    if predicate():
                        return
                finally:
                    self._cond.acquire()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; calls: {self._state.calls}")
                self._cond.wait(min(left, 0.5))

    def pending(self) -> int:
        """Updates not yet confirmed by the bot (through getUpdates' offset)."""
        with self._cond:
            return len(self._state.updates)

    def messages(self, chat_id: int) -> list[Call]:
        """Messages the bot sent to a chat, in order."""
        return self.calls("sendMessage", chat_id)

    def wait_messages(self, chat_id: int, count: int = 1, timeout: float = 30.0) -> list[Call]:
        """Block until the bot has sent at least ``count`` messages to ``chat_id``."""
        self.wait_for(lambda: len(self.messages(chat_id)) >= count, timeout, f"{count} messages to {chat_id}")
        return self.messages(chat_id)

    def sent_message(self, call: Call) -> dict[str, Any]:
        """The Message object the server answered for a recorded sendMessage call."""
        return dict(call.params["_result"])

    # -- the HTTP side -----------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self._serve()

            def do_GET(self) -> None:
                self._serve()

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                prefix = f"/bot{api.token}/"
                if not self.path.startswith(prefix):
                    # What Telegram answers for a token it does not know.
                    self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                    return
                method = self.path[len(prefix) :].split("?")[0]
                params = _parse_params(body, self.headers.get("Content-Type", ""))
                status, payload = api._dispatch(method, params)
                self._reply(status, payload)

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # The bot may hang up on a long poll while it shuts down.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

        return Handler

    def _take_failure(self, method: str, params: dict[str, Any]) -> _Failure | None:
        for failure in self._state.failures:
            if failure.method == method and (
                failure.chat_id is None or int(params.get("chat_id", 0)) == failure.chat_id
            ):
                self._state.failures.remove(failure)
                return failure
        return None

    def _dispatch(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(params)}
        with self._cond:
            failure = self._take_failure(method, params)
            if failure is not None:
                self._state.calls.append(Call(method, {**params, "_failed": failure.code}))
                self._cond.notify_all()
                error: dict[str, Any] = {
                    "ok": False,
                    "error_code": failure.code,
                    "description": failure.description,
                }
                if failure.parameters:
                    error["parameters"] = failure.parameters
                return failure.code, error
            result = self._result(method, params)
            if result is None:
                self._state.calls.append(Call(method, params))
                self._cond.notify_all()
                return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            if isinstance(result, dict):
                params = {**params, "_result": result}
            self._state.calls.append(Call(method, params))
            self._cond.notify_all()
        return 200, {"ok": True, "result": result}

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method in {
            "deleteWebhook",
            "sendChatAction",
            "answerCallbackQuery",
            "setMyCommands",
            "answerInlineQuery",
        }:
            return True
        if method in {"sendMessage", "editMessageText", "editMessageReplyMarkup"}:
            return self._message(method, params)
        return None

    def _message(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        if method == "sendMessage":
            message_id = self._state.next_message_id
            self._state.next_message_id += 1
        else:
            message_id = int(params["message_id"])
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._state.chats.get(chat_id, {"id": chat_id, "type": "private"}),
            "from": BOT_USER,
            "text": params.get("text", ""),
        }
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        return message

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        # Long polling, shortened so that tests stop quickly.
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 0.5)
        with self._cond:
            self._state.updates = [u for u in self._state.updates if u["update_id"] >= offset]
            while not self._state.updates and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            limit = int(params.get("limit") or 100)
            return list(self._state.updates[:limit])


def _entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram gives a user's text: a leading command and a mention of the bot."""
    entities = []
    if text.startswith("/"):
        entities.append({"type": "bot_command", "offset": 0, "length": len(text.split(maxsplit=1)[0])})
    mention = "@" + BOT_USER["username"]
    if mention in text:
        entities.append({"type": "mention", "offset": text.index(mention), "length": len(mention)})
    return entities


def _parse_params(body: bytes, content_type: str) -> dict[str, Any]:
    """Form or JSON request parameters, with PTB's JSON-encoded fields decoded."""
    if not body:
        return {}
    if content_type.startswith("application/json"):
        loaded: dict[str, Any] = json.loads(body)
        return loaded
    if content_type.startswith("multipart/form-data"):
        raise ValueError("multipart uploads are not supported by the fake Bot API")
    params: dict[str, Any] = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    for key in _JSON_PARAMS & params.keys():
        params[key] = json.loads(params[key])
    return params
