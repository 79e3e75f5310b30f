"""``customer-management demo``: three scenarios of one customer on two channels, replayed.

A customer who called the chatbot first and signs up on the web later, one who signed up
first and calls later, and two accounts that one request names at once. Starts a throwaway
local Postgres with the kit's migrations, then sends each request through
``public.customer_management`` under the role and JWT claims the real caller would have
(the chatbot's service role, a signed-in web user) and prints request and response.
Nothing is mocked; the database is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import psycopg

from customer_management.local import auth_users
from customer_management.local.rpc_session import call_customer_management, call_rpc
from customer_management.local.throwaway import throwaway_database

Json = dict[str, Any]
CHATBOT = "service_role"


class Narrator:
    """Prints each step: who calls, what they send, what the kit answers."""

    def __init__(self, conn: psycopg.Connection[Any], compact: bool) -> None:
        self.conn = conn
        self.indent = None if compact else 2

    def heading(self, text: str) -> None:
        """A scenario title."""
        print(f"\n{'=' * 78}\n{text}\n{'=' * 78}")

    def say(self, text: str) -> None:
        """A line of story between calls."""
        print(f"\n{text}")

    def verification(self, kind: str, value: str) -> Json:
        """The chatbot's backend asks for a code (printed as delivered); the caller reads it
        back. Returns the request's ``verification`` field."""
        print("\n--> chatbot backend (service_role) POST /rest/v1/rpc/request_verification")
        body = {"identifier_type": kind, "identifier_value": value}
        print(json.dumps(body, indent=self.indent))
        issued: Json = call_rpc(self.conn, "request_verification", body)
        print("<-- 200")
        print(json.dumps(issued, indent=self.indent))
        print(f"    (sent to {value}; the caller reads back {issued['code']})")
        return {"id": issued["verificationId"], "code": issued["code"]}

    def call(self, caller: str, body: Json, role: str, claims: Json | None = None) -> Json:
        """Send ``body`` as ``role`` and print both sides."""
        print(f"\n--> {caller} ({role}) POST /functions/v1/customer-management")
        print(json.dumps(body, indent=self.indent))
        response: Json = call_customer_management(self.conn, body, role, claims)
        print("<-- " + ("409" if response.get("error") == "Account conflict" else "200"))
        print(json.dumps(response, indent=self.indent, ensure_ascii=False))
        return response


def sign_up(
    conn: psycopg.Connection[Any], email: str, phone: str | None = None
) -> tuple[str, Json]:
    """A local Supabase Auth user who confirmed what they signed up with; id and claims."""
    user = auth_users.ensure_user(conn, email, phone, confirmed=True)
    return str(user.id), user.claims()


def scenario_chatbot_then_web(story: Narrator) -> None:
    """Scenario 1: the chatbot creates the account, the web sign-up lands in it."""
    story.heading("Scenario 1: chatbot first, web app later")
    story.say('Alice calls: "Hi, I\'m Alice, my number is 555-123-4567".')
    story.call(
        "chatbot",
        {
            "phone": "555-123-4567",
            "email": "chatbot_temp@temp.local",
            "firstName": "Alice",
            "source": "chatbot",
        },
        CHATBOT,
    )
    story.say("Alice signs up on the web and confirms her email and her phone (OTP).")
    user_id, claims = sign_up(story.conn, "alice@gmail.com", "+15551234567")
    story.call(
        "web app",
        {
            "email": "alice@gmail.com",
            "phone": "555-123-4567",
            "firstName": "Alice",
            "source": "webapp",
            "authUserId": user_id,
        },
        "authenticated",
        claims,
    )
    story.say(
        "Mallory signs up too and types Alice's phone without confirming it: she gets her "
        "own account, nothing of Alice's, and a request to verify the phone."
    )
    mallory_id, mallory_claims = sign_up(story.conn, "mallory@evil.example.org")
    story.call(
        "web app",
        {"phone": "(555) 123-4567", "source": "webapp", "authUserId": mallory_id},
        "authenticated",
        mallory_claims,
    )


def scenario_web_then_chatbot(story: Narrator) -> None:
    """Scenario 2: the web account gets the line once the caller proves the email."""
    story.heading("Scenario 2: web app first, chatbot later")
    user_id, claims = sign_up(story.conn, "bob@gmail.com")
    story.say("Bob signs up on the web.")
    created = story.call(
        "web app",
        {"email": "bob@gmail.com", "firstName": "Bob", "source": "webapp", "authUserId": user_id},
        "authenticated",
        claims,
    )
    story.say("Bob orders a fruit bouquet on the web.")
    story.conn.execute(
        "insert into public.orders (customer_id, items, total, status) values "
        '(%s, \'[{"name": "Fruit Bouquet", "quantity": 1}]\', 64.99, \'delivered\')',
        (created["customer"]["id"],),
    )
    said = {"phone": "555-567-8901", "email": "bob@gmail.com", "firstName": "Bob"}
    story.say(
        'Bob calls from 555-567-8901: "I\'m Bob, my email is bob@gmail.com". The line is '
        "proven (caller ID); an email said on the phone is not, so the chatbot sends a code "
        "to bob@gmail.com and Bob reads it back."
    )
    verification = story.verification("email", "bob@gmail.com")
    story.call("chatbot", {**said, "source": "chatbot", "verification": verification}, CHATBOT)
    story.say(
        "Mallory calls from her own phone and says Bob's email, without the code: she gets "
        "an account of her own, the email waits there unproven, and nothing of Bob's shows."
    )
    story.call(
        "chatbot",
        {"phone": "555-666-0000", "email": "bob@gmail.com", "source": "chatbot"},
        CHATBOT,
    )


def scenario_conflict(story: Narrator) -> None:
    """Scenario 3: two accounts, one request naming both: flagged, then merged."""
    story.heading("Scenario 3: conflict detection and resolution")
    user_id, claims = sign_up(story.conn, "charlie@gmail.com")
    story.say("Account A: Charlie signed up on the web.")
    story.call(
        "web app",
        {"email": "charlie@gmail.com", "source": "webapp", "authUserId": user_id},
        "authenticated",
        claims,
    )
    story.say("Account B: someone called the chatbot from 555-999-1234.")
    story.call("chatbot", {"phone": "555-999-1234", "source": "chatbot"}, CHATBOT)
    story.say(
        "Charlie calls from that line and proves charlie@gmail.com with a code: two accounts "
        "match what he proved, so the kit flags a conflict."
    )
    both = {"phone": "555-999-1234", "email": "charlie@gmail.com", "source": "chatbot"}
    story.call(
        "chatbot", {**both, "verification": story.verification("email", both["email"])}, CHATBOT
    )
    story.say("The chatbot confirms with Charlie and asks to link them (mergeIfFound).")
    story.call(
        "chatbot",
        {
            **both,
            "firstName": "Charlie",
            "mergeIfFound": True,
            "verification": story.verification("email", both["email"]),
        },
        CHATBOT,
    )
    row = story.conn.execute(
        "select count(*) from customer_management.merge_log where reason = 'mergeIfFound'"
    ).fetchone()
    story.say(
        f"The merge log now holds {row[0] if row else 0} entry with both before-images; "
        "the merged account stays as a tombstone."
    )


def main(argv: list[str] | None = None) -> int:
    """Run the three scenarios on a throwaway database and print every exchange."""
    parser = argparse.ArgumentParser(prog="customer-management demo", description=__doc__)
    parser.add_argument("--compact", action="store_true", help="one line per JSON document")
    args = parser.parse_args(argv)
    print("Starting a throwaway local Postgres with the kit's migrations...")
    with throwaway_database() as url, psycopg.connect(url, autocommit=True) as conn:
        story = Narrator(conn, compact=args.compact)
        scenario_chatbot_then_web(story)
        scenario_web_then_chatbot(story)
        scenario_conflict(story)
    print("\nDone: the throwaway database has been removed.")
    return 0
