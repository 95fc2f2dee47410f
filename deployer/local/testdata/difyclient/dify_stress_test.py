"""Runs Dify's own SSE stress-test client (langgenius/dify
scripts/stress-test/sse_benchmark.py, given by TUNE_DIFY_STRESS_TEST) as
it is, with two adaptations made from outside the file:

  - its ConfigHelper, which reads the API key from the state file Dify's
    setup script writes, is replaced by one that reads DIFY_API_KEY;
  - on the chat route (WORKFLOW_PATH=/v1/chat-messages) each request gets
    a "query" equal to its question: Dify's chat-messages requires one and
    the script, written for /v1/workflows/run, sends inputs only.

At the end it writes the script's own metrics (connections, events, error
counts by kind) and Locust's request totals to REPORT as JSON.
"""

import importlib.util
import json
import os
import sys
import types

from locust import events


class ConfigHelper:
    def get_api_key(self):
        return os.environ["DIFY_API_KEY"]


common = types.ModuleType("common")
config_helper = types.ModuleType("common.config_helper")
config_helper.ConfigHelper = ConfigHelper
common.config_helper = config_helper
sys.modules["common"] = common
sys.modules["common.config_helper"] = config_helper

spec = importlib.util.spec_from_file_location("sse_benchmark", os.environ["TUNE_DIFY_STRESS_TEST"])
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


class DifyWorkflowUser(bench.DifyWorkflowUser):
    def on_start(self):
        super().on_start()
        if "chat-messages" not in bench.WORKFLOW_PATH:
            return
        request = self.client.request

        def with_query(method, url, **kw):
            body = kw.get("json")
            if isinstance(body, dict) and "query" not in body:
                kw["json"] = dict(body, query=body["inputs"]["question"])
            return request(method, url, **kw)

        self.client.request = with_query


@events.test_stop.add_listener
def write_report(environment, **kwargs):
    stats = bench.metrics.get_stats()
    total = environment.stats.total
    with open(os.environ["REPORT"], "w") as f:
        json.dump({"total_connections": stats.total_connections, "total_events": stats.total_events,
                   "error_counts": dict(stats.error_counts), "events_per_stream_avg": stats.events_per_stream_avg,
                   "requests": total.num_requests, "failures": total.num_failures}, f, indent=2)
