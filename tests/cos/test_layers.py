"""The apps depend one way (DESIGN.md): cos <- marketplace <- workorders <- provisioning <- billing <- wholesale <-
simulation (which drives them all). A lower app never imports a higher one, not even inside a function; it
publishes an event, or offers an extension point (cos.portal, provisioning.sync.sync_check), and the higher app
registers into it."""

import ast
from pathlib import Path

import pytest

LAYERS = ["cos", "marketplace", "workorders", "provisioning", "billing", "wholesale", "tmf", "assurance", "simulation"]
ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno


@pytest.mark.parametrize("app", LAYERS)
def test_an_app_imports_no_app_above_it(app):
    above = set(LAYERS[LAYERS.index(app) + 1 :])
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
        for module, line in _imports(path)
        if module.split(".")[0] in above
    ]
    assert not found, "\n".join(found)
