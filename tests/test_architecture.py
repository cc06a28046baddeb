"""The package's layering: imports point one way (core -> tokenization -> data -> birds -> vae -> gan ->
pipelines | integrations -> cli), with no circles, and every module imports on its own."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "textgen"

# the rank of each room: a module may import from its own rank or below, never above
LAYERS = {"core": 0, "tokenization": 1, "data": 2, "birds": 3, "vae": 4, "gan": 5, "pipelines": 6,
          "integrations": 6, "cli": 7}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> list[str]:
    return sorted(_module_name(p) for p in PACKAGE.rglob("*.py"))


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every ``textgen`` module a file imports, at any depth (top of file or inside a function), except under
    ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith("textgen."):
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("textgen.")]
    return out


def _graph() -> dict[str, set[str]]:
    known = set(_modules())
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        src = _module_name(path)
        graph[src] = set()
        for _, target in _imports(path):
            while target not in known and "." in target:         # `from textgen.x import y` where y is a module
                target = target.rsplit(".", 1)[0]
            if target != src:
                graph[src].add(target)
    return graph


def test_no_import_runs_up_a_layer():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        src = _module_name(path)
        for line, target in _imports(path):
            a, b = _room(src), _room(target)
            if a and b and LAYERS[b] > LAYERS[a]:
                upward.append(f"{path.relative_to(ROOT)}:{line} ({a}) imports {target} ({b})")
    assert not upward, "imports that run back up:\n" + "\n".join(upward)


def test_no_import_circles():
    graph = _graph()
    # a package's __init__ re-exporting its own submodules is not a circle with them
    edges = {m: {t for t in ts if not (m == t.rsplit(".", 1)[0] or t == m.rsplit(".", 1)[0])} for m, ts in graph.items()}
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                circles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_every_module_imports_on_its_own():
    """In a child process, each module is imported with no other textgen module loaded before it."""
    code = (
        "import importlib, sys, traceback\n"
        "failed = []\n"
        "for m in sys.argv[1:]:\n"
        "    for n in [n for n in sys.modules if n == 'textgen' or n.startswith('textgen.')]:\n"
        "        del sys.modules[n]\n"
        "    try:\n"
        "        importlib.import_module(m)\n"
        "    except Exception:\n"
        "        failed.append(m + ': ' + traceback.format_exc(limit=3))\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code, *_modules()], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
