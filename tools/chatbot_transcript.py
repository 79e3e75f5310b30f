"""A real chatbot session through the MCP tools, printed as the transcript in the docs.

``python -m tools.chatbot_transcript`` starts a throwaway database with
the seed (John), web sign-ups (Bob, Charlie) and a phone account (Charlie's), the kit's
proxy in front of it, and then ``customer-management mcp`` over stdio for three calls,
driven by the ``mcp`` package's own client the way an agent framework drives it: every
tool call and every answer is printed as Markdown (``docs/chatbot-tools.md`` shows one
run). The delivery hook is a command that writes the code to a file, which stands in for
the caller's inbox.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import psycopg
from mcp import ClientSession, StdioServerParameters, stdio_client
from psycopg.conninfo import make_conninfo

from customer_management.local import auth_users, keys
from customer_management.local.rpc_session import call_customer_management
from customer_management.local.throwaway import throwaway_database
from customer_management.proxy import Settings, create_app
from customer_management.proxy.server import BackgroundServer

JOHN_LINE = "+15551234567"
BOB_LINE = "+15555555678"
BOB_EMAIL = "bob@gmail.com"
CHARLIE_LINE = "+15555559999"
CHARLIE_EMAIL = "charlie@gmail.com"

Scene = Callable[["Conversation"], Awaitable[None]]

INBOX_SCRIPT = """\
import json, os
with open(os.environ["TRANSCRIPT_INBOX"], "a") as inbox:
    inbox.write(json.dumps({
        "to": os.environ["CUSTOMER_MANAGEMENT_TO"],
        "code": os.environ["CUSTOMER_MANAGEMENT_CODE"],
    }) + "\\n")
"""


class Transcript:
    """Markdown lines of the session."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def text(self, line: str = "") -> None:
        self.lines.append(line)

    def block(self, body: str, language: str = "") -> None:
        self.lines.extend([f"```{language}", body, "```", ""])

    def render(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


class Conversation:
    """One MCP client session; each call is written to the transcript."""

    def __init__(self, session: ClientSession, transcript: Transcript, inbox: Path) -> None:
        self.session = session
        self.transcript = transcript
        self.inbox = inbox

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a tool; print the call and the answer (marked when it is a tool error)."""
        result = await self.session.call_tool(name, arguments or {})
        (content,) = result.content
        text = content.text if content.type == "text" else ""
        answer: dict[str, Any] = json.loads(text)
        call = json.dumps(arguments or {}, ensure_ascii=False)
        outcome = "tool error" if result.is_error else "result"
        self.transcript.block(
            f"→ {name} {call}\n← {outcome}: {json.dumps(answer, indent=2, ensure_ascii=False)}",
            "text",
        )
        return answer

    def last_code(self) -> str:
        """The code the hook delivered last (what the caller reads from their inbox)."""
        message = json.loads(self.inbox.read_text().splitlines()[-1])
        self.transcript.text(
            f"*Delivery hook: code `{message['code']}` sent to `{message['to']}`; the caller "
            "reads it back.*"
        )
        self.transcript.text()
        return str(message["code"])


async def converse(
    api_url: str, line: str, inbox: Path, transcript: Transcript, script: Path, scene: Scene
) -> None:
    """Open the MCP server for ``line`` and play ``scene`` through it."""
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "customer_management",
            "mcp",
            "--line",
            line,
            "--deliver-command",
            f"{sys.executable} {script}",
            "--log-level",
            "WARNING",
        ],
        env={
            "SUPABASE_URL": api_url,
            "SUPABASE_SERVICE_ROLE_KEY": keys.service_role_key(),
            "TRANSCRIPT_INBOX": str(inbox),
        },
    )
    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        await scene(Conversation(session, transcript, inbox))


async def john_calls(chat: Conversation) -> None:
    """A returning customer."""
    t = chat.transcript
    t.text("### A returning customer: John calls from his usual line")
    t.text()
    t.text(f"The telephony layer starts `customer-management mcp --line {JOHN_LINE} ...`.")
    t.text()
    await chat.call("identify_caller")
    t.text('*Assistant: "Welcome back John! You have 2 previous orders."*')
    t.text()
    await chat.call("list_my_orders", {"page_size": 2})
    t.text("*John mentions he is allergic to sesame.*")
    t.text()
    await chat.call("update_my_details", {"allergies": ["sesame"]})


async def bob_calls(chat: Conversation) -> None:
    """Scenario 2: web first, then the phone; the email proven with a code."""
    t = chat.transcript
    t.text("### Scenario 2: Bob signed up on the web, and now calls from a new line")
    t.text()
    t.text(
        f"Bob: \"Hi, I'm Bob, my email is {BOB_EMAIL}. Also, check the account on "
        '555-123-4567 for me." The model tries to pass that phone; no tool has such an '
        "argument:"
    )
    t.text()
    await chat.call("identify_caller", {"first_name": "Bob", "phone": JOHN_LINE})
    t.text("The email is proven with a code before anything else:")
    t.text()
    await chat.call("verify_my_email", {"email": BOB_EMAIL})
    code = chat.last_code()
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    t.text("Bob misreads one digit, then reads it again:")
    t.text()
    await chat.call("confirm_code", {"code": wrong})
    await chat.call("confirm_code", {"code": code})
    await chat.call("list_my_orders")
    t.text("There was no conflict in this call, so there is nothing to escalate:")
    t.text()
    await chat.call("request_account_help", {"reason": "I have two accounts"})


async def charlie_calls(chat: Conversation) -> None:
    """Scenario 3: two accounts already exist; proving the email meets both."""
    t = chat.transcript
    t.text("### Scenario 3: Charlie has a web account and, separately, a phone account")
    t.text()
    t.text("The line already has an account of its own, so the greeting comes first:")
    t.text()
    await chat.call("identify_caller")
    t.text(f'Charlie: "My email is {CHARLIE_EMAIL}."')
    t.text()
    await chat.call("verify_my_email", {"email": CHARLIE_EMAIL})
    code = chat.last_code()
    await chat.call("confirm_code", {"code": code})
    t.text(
        "The proven email and the line belong to two accounts: the answer is the kit's "
        "conflict message, with nothing of either account. No tool merges; support decides:"
    )
    t.text()
    await chat.call(
        "request_account_help",
        {"reason": "I opened the web account last year and call from this number."},
    )


def record() -> str:
    """Run the three calls against a fresh database; the Markdown transcript."""
    transcript = Transcript()
    with (
        tempfile.TemporaryDirectory(prefix="cm-transcript-") as tmp,
        throwaway_database(seed=True) as db_url,
    ):
        inbox = Path(tmp) / "inbox.jsonl"
        script = Path(tmp) / "deliver.py"
        script.write_text(INBOX_SCRIPT)
        with psycopg.connect(db_url, autocommit=True) as conn:
            for email, name in ((BOB_EMAIL, "Bob"), (CHARLIE_EMAIL, "Charlie")):
                user = auth_users.ensure_user(conn, email, None, confirmed=True)
                call_customer_management(
                    conn,
                    {"email": email, "firstName": name, "source": "webapp"},
                    "authenticated",
                    user.claims(),
                )
            call_customer_management(
                conn, {"phone": CHARLIE_LINE, "firstName": "Charlie", "source": "chatbot"}
            )
        app = create_app(Settings(db_url=make_conninfo(db_url, user="authenticator")))
        proxy = BackgroundServer(app)
        api_url = proxy.start()
        try:
            for line, scene in (
                (JOHN_LINE, john_calls),
                (BOB_LINE, bob_calls),
                (CHARLIE_LINE, charlie_calls),
            ):
                anyio.run(converse, api_url, line, inbox, transcript, script, scene)
        finally:
            proxy.stop()
    return transcript.render()


def main(argv: Sequence[str] | None = None) -> int:
    """Print the transcript (or write it to ``--output``)."""
    parser = argparse.ArgumentParser(prog="python -m tools.chatbot_transcript")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    text = record()
    if args.output:
        args.output.write_text(text)
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
