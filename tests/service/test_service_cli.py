"""``scientist keys`` and the argument checks of ``scientist serve``."""

import json
import re

import sqlalchemy as sa
from typer.testing import CliRunner

from scientist.cli import app
from scientist.service.auth import KeyStore

runner = CliRunner()


def test_keys_create_prints_the_key_once_and_stores_a_digest(tmp_path):
    db = f"sqlite:///{tmp_path / 'keys.db'}"
    res = runner.invoke(
        app, ["keys", "create", "--scope", "decide", "--scope", "ask", "--name", "bot", "--db", db]
    )
    assert res.exit_code == 0, res.output
    token = res.stdout.strip()
    assert re.fullmatch(r"sci_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", token)
    store = KeyStore(db)
    who = store.verify(token)
    assert who is not None and who.scopes == {"decide", "ask"}
    with store.engine.connect() as conn:
        dump = "\n".join(str(tuple(r)) for r in conn.execute(sa.text("SELECT * FROM api_keys")))
    assert token not in dump and token.split("_", 2)[2] not in dump
    res = runner.invoke(app, ["keys", "list", "--db", db, "--json"])
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(r["id"], r["name"], r["scopes"]) for r in rows] == [
        (who.key_id, "bot", ["ask", "decide"])
    ]
    assert token not in res.output
    assert runner.invoke(app, ["keys", "list", "--db", db]).exit_code == 0
    res = runner.invoke(app, ["keys", "revoke", who.key_id, "--db", db])
    assert res.exit_code == 0
    store.cache_seconds = 0
    assert KeyStore(db).verify(token) is None
    res = runner.invoke(app, ["keys", "revoke", who.key_id, "--db", db])
    assert res.exit_code == 2 and "no such active key" in res.output


def test_keys_create_refuses_unknown_scopes(tmp_path):
    res = runner.invoke(
        app, ["keys", "create", "--scope", "root", "--db", f"sqlite:///{tmp_path / 'k.db'}"]
    )
    assert res.exit_code == 2 and "scope=['root'] is invalid" in res.output


def test_serve_refuses_bad_arguments_before_starting(tmp_path):
    db = f"sqlite:///{tmp_path / 'a.db'}"
    res = runner.invoke(app, ["serve", "--posterior", "asia", "--db", db])
    assert res.exit_code == 2 and "expected NAME=PATH" in res.output
    res = runner.invoke(app, ["serve", "--posterior", f"asia={tmp_path / 'none.npz'}", "--db", db])
    assert res.exit_code == 2 and "no such file" in res.output
    res = runner.invoke(
        app, ["serve", "--posterior", "a=x.npz", "--posterior", "a=y.npz", "--db", db]
    )
    assert res.exit_code == 2 and "given twice" in res.output
    res = runner.invoke(app, ["serve", "--posterior", "a=x.npz", "--workers", "0", "--db", db])
    assert res.exit_code == 2 and "workers=0" in res.output


def test_help_does_not_import_the_web_stack():
    import subprocess
    import sys

    code = "import sys, scientist.cli; print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
