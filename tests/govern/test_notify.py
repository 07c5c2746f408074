"""Notifications against a real local HTTP receiver and a real shell script: decisions
are sent after they are applied, and a failing target never breaks a decision."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import prodline.govern as governance
from prodline.errors import InvalidValueError
from prodline.govern.notify import NotifyTarget, notify, notify_all, parse_targets
from tests.govern._helpers import events, holder_of, register


class Receiver:
    """A real HTTP server on 127.0.0.1: records every POST; /fail answers 500."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
                )
                status = 500 if self.path == "/fail" else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"broken on purpose" if status == 500 else b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def policy(*targets: dict) -> dict:
    return {
        "model": "churn",
        "rules": [{"metric": "f1", "at_least": 0.8}],
        "choose": {"best_by": "f1"},
        "notify": list(targets),
    }


def test_a_promotion_is_posted_to_the_webhook(receiver: Receiver) -> None:
    register(f1=0.85)
    register(f1=0.7)
    target = {"webhook": f"{receiver.url}/hooks/ml", "headers": {"x-token": "s3cret"}}
    result = governance.govern("churn", policy(target), actor="ana")
    [sent] = result.notifications
    assert sent.ok and sent.status == 200 and sent.event == "promoted"
    [post] = receiver.posts
    assert post["path"] == "/hooks/ml" and post["headers"]["x-token"] == "s3cret"
    assert post["headers"]["content-type"] == "application/json"
    payload = post["json"]
    assert payload["event"] == "promoted" and payload["model"] == "churn"
    assert (payload["version"], payload["previous_version"]) == (1, None)
    assert payload["event_id"] == result.event_id and payload["actor"] == "ana"
    assert payload["candidates"] == [
        {"version": 2, "outcome": "rejected", "reasons": ["f1 0.7 is below the minimum 0.8"]},
        {"version": 1, "outcome": "promoted", "reasons": []},
    ]
    # unchanged re-runs and dry runs send nothing
    governance.govern("churn", policy(target))
    governance.govern("churn", policy(target), dry_run=True)
    assert len(receiver.posts) == 1


def test_failing_targets_are_recorded_and_never_break_the_decision(receiver: Receiver) -> None:
    register(f1=0.85)
    targets = (
        {"webhook": f"{receiver.url}/fail"},
        {"webhook": f"http://127.0.0.1:{closed_port()}/nobody-listens", "timeout": 2},
        {"command": "echo 'no disk left' >&2; exit 3"},
        {"webhook": f"{receiver.url}/ok"},
    )
    result = governance.govern("churn", policy(*targets))
    assert result.applied and holder_of() == 1
    oks = [n.ok for n in result.notifications]
    assert oks == [False, False, False, True]
    errors = [n.error for n in result.notifications]
    assert errors[0] == f"{receiver.url}/fail answered HTTP 500: broken on purpose"
    assert errors[1].startswith("cannot reach http://127.0.0.1:")
    assert errors[2] == "command exited with 3: no disk left"
    failed = events("churn", "notify_failed")
    assert [e.reason for e in failed] == errors[:3]
    assert all(e.details["payload_event_id"] == result.event_id for e in failed)
    assert failed[0].details["status"] == 500


def test_a_command_gets_the_decision_on_stdin_and_in_its_environment(tmp_path: Path) -> None:
    script = tmp_path / "on-decision.sh"
    script.write_text(
        "#!/bin/sh\n"
        f"cat > {tmp_path}/decision.json\n"
        f'echo "$PRODLINE_EVENT $PRODLINE_MODEL $PRODLINE_ALIAS $PRODLINE_VERSION '
        f'$PRODLINE_PREVIOUS_VERSION" > {tmp_path}/env.txt\n'
    )
    script.chmod(0o755)
    register(f1=0.85)
    governance.govern("churn", policy())
    register(f1=0.9)
    governance.govern("churn", policy())
    result = governance.rollback(
        "churn", actor="ana", policy=policy({"command": str(script), "on": ["rolled_back"]})
    )
    [sent] = result.notifications
    assert sent.ok and sent.status == 0
    payload = json.loads((tmp_path / "decision.json").read_text())
    assert payload["event"] == "rolled_back" and payload["message"].startswith("production: v2")
    assert (tmp_path / "env.txt").read_text().split() == [
        "rolled_back",
        "churn",
        "production",
        "1",
        "2",
    ]


def test_on_filters_events_and_slow_commands_time_out(tmp_path: Path) -> None:
    register(f1=0.85)
    marker = tmp_path / "called"
    result = governance.govern(
        "churn",
        policy(
            {"command": f"touch {marker}", "on": ["rolled_back"]},
            {"command": "sleep 5", "timeout": 0.3},
        ),
    )
    assert not marker.exists()
    [slow] = result.notifications
    assert not slow.ok and slow.error == "command did not finish within 0.3s"


def test_the_notify_api_for_other_stages(receiver: Receiver) -> None:
    [hook, cmd] = parse_targets(
        [{"webhook": receiver.url, "on": ["drift"]}, {"command": "cat > /dev/null", "on": "drift"}],
        events=["drift", "performance"],
    )
    assert isinstance(hook, NotifyTarget) and cmd.on == ("drift",)
    sent = notify_all([hook, cmd], {"event": "drift", "model": "churn", "psi": 0.4})
    assert [s.ok for s in sent] == [True, True]
    assert notify_all([hook], {"event": "performance"}) == []
    assert receiver.posts[0]["json"] == {"event": "drift", "model": "churn", "psi": 0.4}
    odd = notify(NotifyTarget("pigeon", "coop"), {"event": "x"})
    assert not odd.ok and odd.error == "unknown notification kind 'pigeon'"
    with pytest.raises(InvalidValueError) as caught:
        parse_targets(
            [{"webhook": "localhost:80"}, {"command": "x", "on": "alrt"}], events=["alert"]
        )
    text = str(caught.value)
    assert "key '[0].webhook': must be an http:// or https:// URL" in text
    assert "key '[1].on': unknown event 'alrt' (events: alert)" in text
