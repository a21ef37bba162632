"""Helpers shared by the CLI tests: run ``core.cli.main`` in-process and check one-line errors."""

from __future__ import annotations

from core.cli import main


def in_process(capsys, *args: str) -> tuple[int, str, str]:
    """``core.cli.main(ARGS)`` here: (exit code, stdout, stderr); argparse's SystemExit gives the code."""
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as e:  # argparse exits with an int; None means 0 and a message 1, as for the interpreter
        code = 0 if e.code is None else e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, param: str) -> None:
    """Non-zero exit, one line on stderr, no traceback, and the line names ``param``.

    Engine errors read ``error: PARAM: ...``; argparse's own (``--flag``) name the flag anywhere.
    """
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    if param.startswith("--"):
        assert lines[0].startswith("error: ") and param in lines[0], lines[0]
    else:
        assert lines[0].startswith(f"error: {param}: "), lines[0]
