"""Who may change the library: readers chat, export and give feedback; editors also add and
remove articles and run evaluations.

Checked on the server in every handler that changes something, from the login Gradio verified
(`gr.Request.username`), never by hiding buttons alone: a script can call any event the page can.
- With ALIGNCHAT_AUTH, everyone logs in; ALIGNCHAT_EDITORS names the editors (unset: all of them).
- With no login on a loopback address (one person's laptop), that person edits.
- With no login on any other address, everyone reads and nobody edits: a shared page without a
  login must not let a passer-by delete the library.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import gradio as gr

from bot.core.settings import Settings

EDIT_HELP = ("To add or remove articles or run evaluations here, start the app with a login: "
             "ALIGNCHAT_AUTH=user:password (several pairs separated by commas) and ALIGNCHAT_EDITORS=user; "
             "or run it on 127.0.0.1 for yourself.")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NotAllowed(PermissionError):
    """A reader asked for an editor's action; the message says who may and how to become one."""


@dataclass(frozen=True)
class Access:
    logins: tuple[tuple[str, str], ...]
    editors: frozenset[str] | None  # None: every logged-in user edits
    open_editing: bool  # no login and a loopback address

    @classmethod
    def from_settings(cls, settings: Settings, host: str) -> Access:
        return cls(tuple(settings.logins), settings.editor_names, not settings.logins and is_loopback(host))

    def user(self, request: gr.Request | None) -> str:
        """The logged-in user, or the visitor's address when there is no login (for the audit log)."""
        name = getattr(request, "username", None)
        if name:
            return name
        client = getattr(request, "client", None)
        return f"visitor at {client.host}" if client is not None and getattr(client, "host", None) else "visitor"

    def can_edit(self, request: gr.Request | None) -> bool:
        if not self.logins:
            return self.open_editing
        name = getattr(request, "username", None)
        return bool(name) and (self.editors is None or name in self.editors)

    def require_editor(self, request: gr.Request | None, action: str) -> str:
        """The editor's name for the audit log; raises NotAllowed for anyone else."""
        if self.can_edit(request):
            return self.user(request)
        if self.logins:
            editors = ", ".join(sorted(self.editors or ())) or "the editors"
            raise NotAllowed(f"Only editors can {action}; you are logged in as {self.user(request)}, a reader. "
                             f"Ask {editors} to do it, or to add you to ALIGNCHAT_EDITORS.")
        raise NotAllowed(f"This app is shared without a login, so nobody can {action} from the page. {EDIT_HELP}")

    def reader_notice(self, request: gr.Request | None) -> str:
        """What a reader is told where the editing controls would be ('' for an editor)."""
        if self.can_edit(request):
            return ""
        if self.logins:
            return (f"You are logged in as {self.user(request)}, a reader: you can browse the library and ask "
                    "questions; the editors add and remove articles and run evaluations.")
        return f"This library is read-only here. {EDIT_HELP}"
