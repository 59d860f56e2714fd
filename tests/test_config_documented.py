"""Every environment variable config.py reads is documented in the README's Configuration section.

config.py is parsed (not imported), so a variable added tomorrow in any of the ways it reads one
(`env.get`, `os.environ.get`, `os.environ[...]`, `os.getenv`, an `_env_…` helper) fails this test
until its row is written."""

from __future__ import annotations

import ast
import re

from config import ROOT


def _is_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id in {"env", "environ"}) or (
        isinstance(node, ast.Attribute) and node.attr == "environ"
    )


def _reads_environment(node: ast.Call) -> bool:
    func = node.func
    if isinstance(func, ast.Attribute):
        return (func.attr == "get" and _is_environ(func.value)) or func.attr == "getenv"
    return isinstance(func, ast.Name) and func.id.startswith("_env")


def environment_variables() -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse((ROOT / "config.py").read_text())):
        if isinstance(node, ast.Call) and node.args and _reads_environment(node):
            first = node.args[0]
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            first = node.slice
        else:
            continue
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value)
    return names


def configuration_section() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Configuration\n(.*?)^## ", readme, re.S | re.M)
    assert match, "README.md has no '## Configuration' section"
    return match.group(1)


def test_the_parser_finds_the_variables_config_reads():
    names = environment_variables()
    assert {"DATABASE_URL", "SECRET_KEY", "SMTP_TIMEOUT", "OUTBOX_STALE_SECONDS"} <= names
    assert {"SMTP_STARTTLS", "RATELIMIT_ENABLED", "HERO_INSTANCE_PATH"} <= names


def test_every_variable_config_reads_is_in_the_readme_configuration_section():
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", configuration_section()))
    missing = sorted(environment_variables() - documented)
    assert not missing, f"add these to README.md's Configuration table: {missing}"
