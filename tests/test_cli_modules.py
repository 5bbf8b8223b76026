"""The CLI is one Typer app whose commands live in one module per subject, listed in the order
``--help`` shows them; every command function is short."""

from __future__ import annotations

import ast
import inspect

import typer.main

import geo_service.cli as cli

#: the commands in the order ``geo-service --help`` lists them, with the module that holds each
ORDER = [("serve", "serve"), ("demo", "datasets"), ("import", "datasets"), ("export", "datasets"),
         ("summary", "datasets"), ("validate", "datasets"), ("batch", "batch"), ("optimise", "optimise"),
         ("close-gaps", "coverage"), ("map", "coverage"), ("coverage", "coverage"), ("template", "template"),
         ("roster", "roster"), ("review", "review"), ("fill-sheet", "villages"), ("fill-import", "villages"),
         ("warm", "warm"), ("posters", "posters")]


def test_every_command_in_its_subject_module_in_help_order():
    group = typer.main.get_command(cli.app)
    names = group.list_commands(None)
    assert names == [n for n, _ in ORDER]
    for name, module in ORDER:
        fn = group.get_command(None, name).callback
        assert inspect.getmodule(fn).__name__.endswith(f"geo_service.cli.{module}"), name


def test_command_functions_are_short():
    """Each command, and each helper of the command modules, is at most 80 lines (``def`` to last line)."""
    long = []
    for mod in {*cli.SUBJECTS, cli.posters}:
        tree = ast.parse(inspect.getsource(mod))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 80:
                long.append(f"{mod.__name__}.{node.name}: {node.end_lineno - node.lineno + 1}")
    assert not long, long
