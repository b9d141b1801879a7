"""The command line starts fast: ``--help`` loads no NumPy, Numba or PyArrow, and cli/ reaches the
engine only through ``showcase.engine``, lazily (timings are in bench/cli_startup.py, never asserted)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[1] / "cli"

#: Every command and group, as the words after ``showcase``.
COMMANDS = [
    [], ["aggregate"], ["synthesize"], ["run"], ["evaluate"], ["compare"], ["ledger"], ["ledger", "show"],
    ["datasets"], ["datasets", "generate"], ["datasets", "generate", "table"],
    ["datasets", "generate", "cases"], ["prepare"], ["codebook"], ["codebook", "infer"],
    ["codebook", "check"], ["serve"], ["report"],
]  # fmt: skip
HEAVY = ("numpy", "numba", "pyarrow")

# Runs each --help in turn in one fresh process and reports, after each, its exit status, what it
# printed and which heavy modules were loaded by then.
PROBE = """
import contextlib, io, json, sys
from showcase.cli.main import main
report = []
for words in json.loads(sys.argv[1]):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main([*words, "--help"])
    heavy = [name for name in {heavy!r} if name in sys.modules]
    report.append({{"words": words, "code": code, "help": printed.getvalue(), "heavy": heavy}})
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def helps() -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), json.dumps(COMMANDS)],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "COLUMNS": "80"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_help_loads_no_numpy_numba_or_pyarrow(helps):
    assert [entry["words"] for entry in helps] == COMMANDS
    for entry in helps:
        assert entry["code"] == 0, entry["words"]
        assert "Usage: showcase" in entry["help"], entry["words"]
        assert entry["heavy"] == [], f"showcase {' '.join(entry['words'])} --help loaded {entry['heavy']}"


def test_help_states_examples_and_defaults(helps):
    by_command = {" ".join(entry["words"]): entry["help"] for entry in helps}
    for command in ("aggregate", "synthesize", "run", "evaluate", "compare", "ledger show", "prepare",
                    "codebook infer", "datasets generate cases"):  # fmt: skip
        assert f"showcase {command} " in by_command[command], command  # an example
    assert "Default: 3 (aim, run --dp's default" in " ".join(by_command["run"].split())
    assert "Default: 10. Not with --dp." in by_command["aggregate"]
    assert "Default: balanced." in by_command["aggregate"]  # the fabrication mode
    for command in ("datasets generate table", "datasets generate cases", "codebook infer", "report"):
        # --force of a single file: what it replaces, as the README says (never a file you made).
        assert "showcase wrote" in " ".join(by_command[command].split()), command


def test_help_reads_well_in_an_80_column_terminal(helps):
    for entry in helps:
        lines = entry["help"].splitlines()
        assert [line for line in lines if len(line) > 80] == [], entry["words"]  # examples wrapped by hand
        # Arguments in capitals, as the README and the help's own text name them (not "{input}").
        arguments = lines[0].split("[OPTIONS]")[-1]
        assert arguments == arguments.upper(), lines[0]
        listed = lines[lines.index("Commands:") + 1 :] if "Commands:" in lines else []
        assert [line for line in listed if line.endswith("...")] == [], entry["words"]  # whole summaries
    root = next(entry["help"] for entry in helps if entry["words"] == [])
    assert "showcase datasets generate table " in root  # the example of the root command is shown


def test_run_and_aggregate_take_the_same_dp_options(helps):
    def flags(text: str) -> set[str]:
        return {word.rstrip(",") for word in text.split() if word.startswith("--")}

    by_command = {" ".join(entry["words"]): entry["help"] for entry in helps}
    dp_flags = {"--dp", "--epsilon", "--delta", "--fabrication-mode", "--thresholds", "--accuracy-mode",
                "--sigma-proportions", "--percentile", "--percentile-proportion",
                "--record-count-proportion", "--codebook", "--subject-id", "--budget-total", "--ledger",
                "--dataset-id", "--seed"}  # fmt: skip
    assert dp_flags <= flags(by_command["aggregate"])
    assert dp_flags <= flags(by_command["run"])


def test_compare_help_names_every_mechanism(helps):
    from showcase.engine import MECHANISMS

    text = next(entry["help"] for entry in helps if entry["words"] == ["compare"])
    # Compared without white space: the help wraps lines, even inside a name such as pac-synth.
    flat = "".join(text.split())
    for name, info in MECHANISMS.items():
        assert "".join(f"{name} ({', '.join(info.params)})".split()) in flat, name


def _engine_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every import of showcase.engine or below it, anywhere in a module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.startswith("showcase.engine")]
    return found


def test_cli_reaches_the_engine_only_through_its_package_and_lazily():
    light = {"__future__", "typer", "rich"} | set(sys.stdlib_module_names)
    for path in sorted(CLI.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for line, module in _engine_imports(tree):
            assert module == "showcase.engine", f"{path.name}:{line} imports {module}"
        for node in tree.body:  # at import time: light modules, and the (lazy, PEP 562) engine package
            if isinstance(node, ast.Import):  # `import showcase.engine` loads only the package
                modules = [alias.name for alias in node.names if alias.name != "showcase.engine"]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:  # a name of it would load its module
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] in light, f"{path.name}:{node.lineno} imports {module} at import"


def test_a_group_named_alone_prints_its_help_as_it_is(capsys):
    from .helpers import run

    for words in ([], ["datasets"], ["ledger"], ["codebook"]):
        code, stdout, stderr = run(capsys, *words)
        assert code == 2 and stdout == ""
        assert stderr.startswith(f"Usage: {' '.join(['showcase', *words])} ") and "\nCommands:\n" in stderr


def test_a_command_parses_its_options_without_pydantic(tmp_path):
    """Typer would build a Pydantic adapter per option (about 0.15 s); cli/coercion.py converts them."""
    probe = (
        "import sys; from showcase.cli.main import main; "
        "code = main(sys.argv[1:]); print(code, 'pydantic' in sys.modules)"
    )
    out = tmp_path / "t.csv"
    argv = ["datasets", "generate", "table", "--rows", "50", "--columns", "3", "--seed", "2", "-o", str(out)]
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=120)
    assert done.stdout.split()[-2:] == ["0", "False"], done.stderr
    assert len(out.read_text().splitlines()) == 51


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--threads", "0"], "Invalid value for '--threads': Input should be greater than or equal to 1"),
        (["--length", "abc"], "Input should be a valid integer, unable to parse string as an integer"),
        (["--length", "2.5"], "Input should be a valid integer, unable to parse string as an integer"),
        (["--percentile", "x", "--dp", "--epsilon", "1"], "Input should be a valid number, unable to parse"),
    ],
)
def test_the_light_converter_refuses_as_typer_would(tmp_path, capsys, argv, message):
    from showcase.cli.main import main

    data = tmp_path / "d.csv"
    data.write_text("a,b\nx,y\n")
    assert main(["aggregate", str(data), "-o", str(tmp_path / "o"), *argv]) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "o").exists()
