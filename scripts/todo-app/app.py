#!/usr/bin/env python3
"""A small to-do web app, the stand-in for the app of Docker's getting-started
walkthrough (issue 7), self-contained in this one file so that it runs both
from the image (/app/app.py) and bind-mounted from scripts/todo-app.

Storage: MySQL when MYSQL_HOST is set (MYSQL_USER, MYSQL_PASSWORD, MYSQL_DB;
each also as VAR_FILE, the value read from that file), otherwise SQLite at
SQLITE_DB (default /etc/todos/todo.db), like the original app.

JSON API on port 3000 (PORT):
    GET    /items        -> [{"id", "name", "completed"}, ...]
    POST   /items        {"name": ...}                     -> the new item
    PUT    /items/<id>   {"name": ..., "completed": true}  -> the updated item
    DELETE /items/<id>   -> 200
and a minimal page at /.

On start it waits (bounded, DB_WAIT_TIMEOUT seconds, default 60) for the
database, creates the table todo_items (id varchar(36), name varchar(255),
completed boolean), and prints "Connected to mysql db at host <host>" and
then "Listening on port 3000".
"""

import json
import os
import re
import signal
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Log lines must reach `logs` at once, not when a buffer fills.
sys.stdout.reconfigure(line_buffering=True)
sys.stderr.reconfigure(line_buffering=True)


def env(name, default=None):
    """$NAME, or the contents of the file named by $NAME_FILE."""
    path = os.environ.get(name + "_FILE")
    if path:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    return os.environ.get(name, default)


class MySQLStore:
    placeholder = "%s"

    def __init__(self, host, user, password, db, wait_timeout):
        import pymysql  # only needed with MySQL

        self.pymysql = pymysql
        self.host, self.user, self.password, self.db = host, user, password, db
        self.local = threading.local()
        deadline = time.monotonic() + wait_timeout
        while True:
            try:
                conn = self.connect()
                break
            except pymysql.err.OperationalError as e:
                if time.monotonic() >= deadline:
                    raise SystemExit(
                        f"could not connect to mysql db at host {host} within {wait_timeout}s: {e}"
                    )
                print(f"Waiting for mysql db at host {host}: {e.args[-1]}", file=sys.stderr)
                time.sleep(1)
        with conn.cursor() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS todo_items "
                "(id varchar(36), name varchar(255), completed boolean) DEFAULT CHARSET utf8mb4"
            )
        self.local.conn = conn
        print(f"Connected to mysql db at host {host}")

    def connect(self):
        return self.pymysql.connect(
            host=self.host,
            user=self.user,
            password=self.password or "",
            database=self.db,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=5,
        )

    def execute(self, sql, args=()):
        """Runs SQL on this thread's connection, reconnecting once if the
        server went away (restarted database)."""
        for attempt in (1, 2):
            conn = getattr(self.local, "conn", None)
            try:
                if conn is None:
                    conn = self.local.conn = self.connect()
                with conn.cursor() as c:
                    c.execute(sql, args)
                    return c.fetchall()
            except (self.pymysql.err.OperationalError, self.pymysql.err.InterfaceError):
                self.local.conn = None
                if attempt == 2:
                    raise


class SQLiteStore:
    placeholder = "?"

    def __init__(self, path):
        import sqlite3

        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.lock = threading.Lock()
        self.execute(
            "CREATE TABLE IF NOT EXISTS todo_items "
            "(id varchar(36), name varchar(255), completed boolean)"
        )
        print(f"Using sqlite database at {path}")

    def execute(self, sql, args=()):
        with self.lock:
            return self.conn.execute(sql, args).fetchall()


class Items:
    def __init__(self, store):
        self.store = store
        self.p = store.placeholder

    @staticmethod
    def row(r):
        return {"id": r[0], "name": r[1], "completed": bool(r[2])}

    def list(self):
        return [self.row(r) for r in self.store.execute("SELECT id, name, completed FROM todo_items")]

    def get(self, item_id):
        rows = self.store.execute(
            f"SELECT id, name, completed FROM todo_items WHERE id = {self.p}", (item_id,)
        )
        return self.row(rows[0]) if rows else None

    def add(self, name):
        item = {"id": str(uuid.uuid4()), "name": name, "completed": False}
        self.store.execute(
            f"INSERT INTO todo_items (id, name, completed) VALUES ({self.p}, {self.p}, {self.p})",
            (item["id"], item["name"], 0),
        )
        return item

    def update(self, item_id, name, completed):
        self.store.execute(
            f"UPDATE todo_items SET name = {self.p}, completed = {self.p} WHERE id = {self.p}",
            (name, 1 if completed else 0, item_id),
        )
        return self.get(item_id)

    def remove(self, item_id):
        self.store.execute(f"DELETE FROM todo_items WHERE id = {self.p}", (item_id,))


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Todo App</title></head>
<body><h1>Todo App</h1>
<form id="f"><input id="n" placeholder="New Item"><button>Add Item</button></form>
<ul id="l"></ul>
<script>
async function load() {
  const items = await (await fetch('/items')).json();
  const l = document.getElementById('l'); l.innerHTML = '';
  for (const it of items) {
    const li = document.createElement('li');
    const cb = document.createElement('input'); cb.type = 'checkbox'; cb.checked = it.completed;
    cb.onchange = async () => { await fetch('/items/' + it.id, {method: 'PUT',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({name: it.name, completed: cb.checked})}); load(); };
    const del = document.createElement('button'); del.textContent = 'Remove';
    del.onclick = async () => { await fetch('/items/' + it.id, {method: 'DELETE'}); load(); };
    li.append(cb, ' ' + it.name + ' ', del); l.append(li);
  }
}
document.getElementById('f').onsubmit = async (e) => {
  e.preventDefault(); const n = document.getElementById('n');
  if (!n.value) return;
  await fetch('/items', {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({name: n.value})});
  n.value = ''; load();
};
load();
</script></body></html>
"""

ITEM_PATH = re.compile(r"^/items/([^/]+)$")


class Handler(BaseHTTPRequestHandler):
    items = None  # set in main
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass  # quiet, like the original

    def send(self, status, body=None, content_type="application/json"):
        data = b""
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        try:
            data = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def guarded(self, fn):
        try:
            fn()
        except Exception as e:  # a database error: tell the client, keep serving
            print(f"error: {self.command} {self.path}: {e}", file=sys.stderr)
            self.send(500, {"error": str(e)})

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/items":
            self.guarded(lambda: self.send(200, self.items.list()))
        elif path in ("/", "/index.html"):
            self.send(200, PAGE, "text/html; charset=utf-8")
        else:
            self.send(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/items":
            return self.send(404, {"error": "not found"})
        data = self.body()
        if not data or not isinstance(data.get("name"), str) or not data["name"]:
            return self.send(400, {"error": 'expected {"name": "..."}'})
        self.guarded(lambda: self.send(200, self.items.add(data["name"])))

    def do_PUT(self):
        m = ITEM_PATH.match(self.path)
        if not m:
            return self.send(404, {"error": "not found"})
        data = self.body()
        if data is None:
            return self.send(400, {"error": "expected a JSON object"})

        def update():
            current = self.items.get(m.group(1))
            if current is None:
                return self.send(404, {"error": "no such item"})
            name = data.get("name", current["name"])
            completed = bool(data.get("completed", current["completed"]))
            self.send(200, self.items.update(m.group(1), name, completed))

        self.guarded(update)

    def do_DELETE(self):
        m = ITEM_PATH.match(self.path)
        if not m:
            return self.send(404, {"error": "not found"})

        def remove():
            self.items.remove(m.group(1))
            self.send(200)

        self.guarded(remove)


def main():
    host = env("MYSQL_HOST")
    if host:
        store = MySQLStore(
            host,
            env("MYSQL_USER"),
            env("MYSQL_PASSWORD"),
            env("MYSQL_DB"),
            float(os.environ.get("DB_WAIT_TIMEOUT", "60")),
        )
    else:
        store = SQLiteStore(os.environ.get("SQLITE_DB", "/etc/todos/todo.db"))
    Handler.items = Items(store)
    port = int(os.environ.get("PORT", "3000"))
    ThreadingHTTPServer.address_family = socket.AF_INET
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    # As pid 1 in a container SIGTERM has no default action: stop on it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"Listening on port {port}")
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
