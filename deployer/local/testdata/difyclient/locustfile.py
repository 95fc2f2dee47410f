"""A Locust client that reads Dify's service API the way Dify's own SSE
stress test does, and checks the bytes as well as the verdict.

Like Dify's stress test it is a Locust HttpUser posting {"inputs":
{"question": ...}, "response_mode": "streaming", "user": ...} with requests'
stream=True, reads the body with iter_lines(decode_unicode=True), parses
each line by the event-stream rules (data, event, id fields, comments, a
blank line dispatches), json.loads every event's data, and counts a stream
as a success when a terminal event (TERMINAL_EVENTS, default
workflow_finished,error) arrives; a stream that ends without one is an
early termination. For the chat route it adds the query Dify's
chat-messages requires.

Beyond that verdict it reads every stream to its end and checks what a
client matching Dify 1.12's exact bytes relies on:
  - each event's data is the JSON orjson writes for a dict: compact, raw
    UTF-8, key order kept (json.dumps with (",", ":") separators and
    ensure_ascii=False gives the same bytes);
  - the "event" key comes first;
  - the sequence of event names matches EXPECT (a regular expression over
    the names joined by ",", pings left out);
  - message and agent_message carry an id; message_end carries files.

Settings (environment): DIFY_API_KEY, WORKFLOW_PATH (default
/v1/workflows/run), TERMINAL_EVENTS, EXPECT, REPORT (a JSON file written at
the end with the counts and the first example of each problem),
CONNECT_TIMEOUT and READ_TIMEOUT in seconds (default 10 and 60).
"""

import json
import os
import re
import threading

from locust import HttpUser, constant, events, task

WORKFLOW_PATH = os.getenv("WORKFLOW_PATH", "/v1/workflows/run")
TERMINAL_EVENTS = [e.strip() for e in os.getenv("TERMINAL_EVENTS", "workflow_finished,error").split(",") if e.strip()]
EXPECT = re.compile(os.getenv("EXPECT", ".*"))
REPORT = os.getenv("REPORT", "")
TIMEOUTS = (float(os.getenv("CONNECT_TIMEOUT", "10")), float(os.getenv("READ_TIMEOUT", "60")))
QUESTIONS = ["What is Dify?", "Explain the graph engine", "天气怎么样？", "Zürich or Genève?"]

lock = threading.Lock()
counts = {"streams": 0, "terminal": 0, "early_termination": 0, "invalid_json": 0, "not_dify_bytes": 0,
          "event_not_first": 0, "order": 0, "missing_field": 0, "http_error": 0, "pings": 0, "events": 0}
examples = {}


def problem(kind, example):
    with lock:
        counts[kind] += 1
        examples.setdefault(kind, example[:400])


class Parser:
    """The event-stream line rules: fields accumulate, a blank line
    dispatches an event that has data."""

    def __init__(self):
        self.data, self.event = [], None

    def line(self, line):
        if line == "":
            if not self.data:
                self.event = None
                return None
            ev = (self.event or "message", "\n".join(self.data))
            self.data, self.event = [], None
            return ev
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self.data.append(value)
        elif field == "event":
            self.event = value
            if value == "ping":
                with lock:
                    counts["pings"] += 1
        return None


class DifyClient(HttpUser):
    wait_time = constant(0)

    @task
    def stream(self):
        question = QUESTIONS[counts["streams"] % len(QUESTIONS)]
        body = {"inputs": {"question": question}, "response_mode": "streaming", "user": "conformance"}
        if "chat-messages" in WORKFLOW_PATH:
            body["query"] = question
        headers = {"Authorization": "Bearer " + os.environ["DIFY_API_KEY"], "Content-Type": "application/json",
                   "Accept": "text/event-stream", "Cache-Control": "no-cache"}
        with self.client.request("POST", WORKFLOW_PATH, headers=headers, json=body, stream=True,
                                 catch_response=True, timeout=TIMEOUTS, name=WORKFLOW_PATH) as r:
            with lock:
                counts["streams"] += 1
            if r.status_code >= 400:
                problem("http_error", "%d %s" % (r.status_code, r.text))
                r.failure("HTTP %d" % r.status_code)
                return
            parser, names, terminal = Parser(), [], False
            for line in r.iter_lines(decode_unicode=True):
                ev = parser.line(line if line is not None else "")
                if ev is None:
                    continue
                _, data = ev
                with lock:
                    counts["events"] += 1
                try:
                    obj = json.loads(data)
                except ValueError:
                    problem("invalid_json", data)
                    continue
                name = obj.get("event", "")
                names.append(name)
                if json.dumps(obj, separators=(",", ":"), ensure_ascii=False) != data:
                    problem("not_dify_bytes", data)
                if next(iter(obj), None) != "event":
                    problem("event_not_first", data)
                if name in ("message", "agent_message") and "id" not in obj:
                    problem("missing_field", "no id: " + data)
                if name == "message_end" and "files" not in obj:
                    problem("missing_field", "no files: " + data)
                if name in TERMINAL_EVENTS:
                    terminal = True
            if not terminal:
                problem("early_termination", ",".join(names))
                r.failure("stream ended without a terminal event")
                return
            with lock:
                counts["terminal"] += 1
            if not EXPECT.fullmatch(",".join(names)):
                problem("order", ",".join(names))
                r.failure("events out of Dify's order")
                return
            r.success()


@events.test_stop.add_listener
def write_report(environment, **kwargs):
    if REPORT:
        with lock, open(REPORT, "w") as f:
            json.dump({"counts": counts, "examples": examples}, f, indent=2, ensure_ascii=False)
