"""Real receivers for notices, in the test process: an SMTP server (aiosmtpd)
and an HTTP server taking webhooks. The fixtures `smtp_server` and `webhook`:
a test module imports their functions to use them."""

import email
import json
import threading
import time
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from devtools.processes import free_port


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email_policy))
        return "250 OK"


@pytest.fixture(name="smtp_server")
def smtp_server_fixture():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, mailbox
    controller.stop()


class Webhook:
    """An HTTP server that answers with the next of `statuses` (the last one
    again once they run out) and keeps what it was sent. It answers after
    `delay` seconds, and the first request after `hold_first` (a receiver
    slow enough for a worker to be caught sending)."""

    def __init__(self, statuses=(200,), delay=0.0, hold_first=0.0):
        self.statuses = list(statuses)
        self.received = []
        self.lock = threading.Lock()
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with webhook.lock:
                    first = not webhook.received
                    webhook.received.append((self.path, dict(self.headers), json.loads(body)))
                    statuses = webhook.statuses
                    status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
                time.sleep(hold_first if first and hold_first else delay)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(name="webhook")
def webhook_fixture():
    servers = []

    def start(statuses=(200,), **timing):
        servers.append(Webhook(statuses, **timing))
        return servers[-1]

    yield start
    for server in servers:
        server.close()
