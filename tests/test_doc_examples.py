"""The documentation's examples, run as written (README.md and docs/*.md).

- A ```toml block is a configuration `canvas-ladok check-config` passes, with every secret set
  in the environment; unless the next code block is a ```console block: then it is that
  session's configuration file.
- A ```console block is a terminal session in /srv/canvas-ladok (a fresh folder per document)
  with the shipped configuration, or the toml block right above it, as
  config/canvas-ladok.toml. Each `$ [VAR=value ...] canvas-ladok ARGS` line runs there, in
  order, with only those CANVAS_LADOK_* variables set, and prints exactly the lines below it.
- ```text blocks are illustrations, not run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from plugin.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
WORKDIR = "/srv/canvas-ladok"  # where the examples are run
SHIPPED = ROOT / "config" / "canvas-ladok.toml"


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int
    lang: str
    text: str

    @property
    def name(self) -> str:
        return f"{self.doc.name}:{self.line}"


def blocks(doc: Path) -> list[Block]:
    text = doc.read_text(encoding="utf-8")
    return [Block(doc, text[:m.start()].count("\n") + 1, m.group(1), m.group(2))
            for m in FENCE.finditer(text)]


def configured_sessions(doc: Path) -> list[tuple[Block, Block | None]]:
    """Each console block of `doc` with the toml block right above it, if any."""
    found = blocks(doc)
    return [(block, found[i - 1] if i and found[i - 1].lang == "toml" else None)
            for i, block in enumerate(found) if block.lang == "console"]


def snippets() -> list[Block]:
    """The toml blocks that stand for a configuration that passes."""
    out = []
    for doc in DOCS:
        found = blocks(doc)
        for i, block in enumerate(found):
            following = found[i + 1].lang if i + 1 < len(found) else ""
            if block.lang == "toml" and following != "console":
                out.append(block)
    return out


def lti_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def test_the_documents_have_examples_of_each_kind():
    assert len(snippets()) >= 6
    assert sum(len(configured_sessions(doc)) for doc in DOCS) >= 4


CERT_PASSWORD = "a-certificate-password"


def with_the_files_it_names(text: str, folder: Path) -> str:
    """`text` with the certificate files it names (`certificate = "/etc/…"`) made in
    `folder` as an operator would have them, and the paths pointing there."""
    from tests.ladok_pki import certificate_authority, issue

    ca = certificate_authority()

    def provide(match: re.Match) -> str:
        key, path = match.group(1), folder / Path(match.group(2)).name
        if key == "ca_file":
            ca.write_cert(path)
        elif path.suffix == ".p12":
            issue(ca, "canvas-ladok").write_p12(path, CERT_PASSWORD)
        else:
            issue(ca, "canvas-ladok").write_pem(path, CERT_PASSWORD)
        return f'{key} = "{path}"'

    return re.sub(r'^(certificate|ca_file) = "(/[^"]+)"', provide, text, flags=re.M)


@pytest.mark.parametrize("block", snippets(), ids=lambda b: b.name)
def test_each_documented_configuration_passes_check_config(block, tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("CANVAS_LADOK_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "canvas-ladok.toml").write_text(
        with_the_files_it_names(block.text, tmp_path))
    secrets = {"CANVAS_LADOK_WEBHOOK_TOKEN": "a-webhook-token",
               "CANVAS_LADOK_SECRET_KEY": "k" * 64, "CANVAS_LADOK_LTI_PRIVATE_KEY": lti_key(),
               "CANVAS_LADOK_SMTP_PASSWORD": "a-password",
               "CANVAS_LADOK_LADOK_CERT_PASSWORD": CERT_PASSWORD}
    result = CliRunner().invoke(main, ["check-config"], env=secrets)
    assert result.exit_code == 0, f"{block.name}:\n{result.output}"
    assert "warning" not in result.output


def commands(block: Block) -> list[tuple[str, list[str]]]:
    """Each `$ ` line of a console block with the lines it prints."""
    out: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        else:
            assert out, f"{block.name}: output before the first command"
            out[-1][1].append(line.rstrip())
    return out


def run(command: str, workdir: Path) -> list[str]:
    """One documented command line, run in `workdir`; its output as the document shows it."""
    words = shlex.split(command)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANVAS_LADOK_")}
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    assert words[0] == "canvas-ladok", f"not a canvas-ladok command: {command}"
    result = subprocess.run([sys.executable, "-m", "plugin", *words[1:]], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=120)
    text = result.stdout.replace(str(workdir.resolve()), WORKDIR).replace(str(workdir), WORKDIR)
    return [line.rstrip() for line in text.splitlines()]


@pytest.mark.slow  # each command in a process of its own
@pytest.mark.parametrize("doc", [d for d in DOCS if configured_sessions(d)],
                         ids=lambda d: d.name)
def test_each_documented_session_prints_what_the_document_shows(doc, tmp_path):
    (tmp_path / "config").mkdir()
    config = tmp_path / "config" / "canvas-ladok.toml"
    for block, toml in configured_sessions(doc):
        config.write_text(toml.text if toml else SHIPPED.read_text())
        for command, expected in commands(block):
            assert run(command, tmp_path) == expected, f"{block.name}: $ {command}"


def test_every_document_is_in_the_readmes_list():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"\]\((docs/[\w-]+\.md)\)", readme))
    assert listed == {f"docs/{d.name}" for d in DOCS[1:]}


def test_no_document_promises_a_part_still_to_be_written():
    for doc in DOCS:
        assert not re.search(r"to be written", doc.read_text(encoding="utf-8"), re.I), doc.name


def test_every_documented_mail_server_address_is_one_check_config_takes():
    from plugin.settings.sections import parse_smtp_url

    found = [(doc.name, url) for doc in DOCS for url in re.findall(
        r"`[^`]*?(smtps?(?:\+\w+)?://[^`\s]+)`", doc.read_text(encoding="utf-8"))]
    assert len(found) >= 3
    for name, url in found:
        example = url.replace("…", "x").replace("host", "mail.example.edu").replace(":port", ":25")
        try:
            parse_smtp_url(example)
        except ValueError as exc:
            pytest.fail(f"{name}: {url}: {exc}")


def test_the_documented_webhook_delivery_is_answered_as_shown(tmp_path):
    import json
    from urllib.parse import urlsplit

    from plugin import create_app
    from plugin.settings import load_settings
    from plugin.store.migrate import upgrade

    block = next(b for d in DOCS for b in blocks(d) if b.text.startswith("curl "))
    command, answer = block.text.rstrip("\n").rsplit("\n", 1)
    words = shlex.split(command)
    options = {w: words[i + 1] for i, w in enumerate(words) if w in ("-X", "-H", "-d")}
    url = urlsplit(next(w for w in words if w.startswith("https://")))
    token = dict(p.split("=", 1) for p in url.query.split("&"))["token"]
    settings = load_settings(SHIPPED, {
        "CANVAS_LADOK_WEBHOOK_TOKEN": token, "CANVAS_LADOK_EXPORT_DIR": str(tmp_path / "x"),
        "CANVAS_LADOK_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    app = create_app({"SETTINGS": settings, "TESTING": True})
    try:
        upgrade(app.extensions["canvas_ladok"].store)
        name, _, value = options["-H"].partition(": ")
        response = app.test_client().open(f"{url.path}?{url.query}", method=options["-X"],
                                          headers={name: value}, data=options["-d"])
        assert response.json == json.loads(answer), block.name
    finally:
        app.extensions["canvas_ladok"].store.dispose()
