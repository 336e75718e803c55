"""The `pocflow` command: what must happen before a workspace has a dodo.py."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn

from pocflow.cmd_new import report
from pocflow.errors import PocflowError
from pocflow.manifest import manifest_schema
from pocflow.merge import DRIVER
from pocflow.scaffold import InitOptions, init_workspace


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors exit 3 (an error before anything ran), as
    doit's and pocflow's own commands do, not argparse's 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(3, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `pocflow` console script."""
    parser = _Parser(
        prog="pocflow",
        description="Execute a proof-of-concept one verified step at a time. "
        "Inside a workspace, use doit: `doit list`, `doit step:<id>`, `doit poc-complete`, "
        "`doit new <id>`, `doit scaffold`, `doit drift`.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser(
        "init",
        help="make this repository a pocflow workspace (dodo.py, [tool.pocflow])",
        description="Writes dodo.py and a [tool.pocflow] table, and creates the step folders. "
        "Touches nothing that exists.",
    )
    init.add_argument("--poc", type=int, default=1, help="the PoC number N (default 1)")
    init.add_argument("--name", default="", help="the PoC's name (default: the plan's title)")
    init.add_argument("--scripts-dir", default="PoC", help="step scripts (default PoC)")
    init.add_argument("--tests-dir", default="tests", help="step tests (default tests)")
    init.add_argument("--docs-dir", default="docs", help="plan and results (default docs)")
    init.add_argument(
        "--root", type=Path, default=Path.cwd(), help="the repository (default: the current folder)"
    )
    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of step manifests (for editors)",
        description="Prints the JSON Schema that step manifests are checked against, or writes "
        "it to a file; point your editor's YAML support at it.",
    )
    schema.add_argument("--output", type=Path, help="write it to this file instead")
    driver = commands.add_parser(
        "merge-driver",
        help="git merge driver for records and generated documents",
        description="Called by git (see docs/ci.md): keeps our machine blocks, which the next "
        "run regenerates from the merged records, and merges the text people wrote.",
    )
    for part in ("base", "ours", "theirs"):
        driver.add_argument(part, type=Path)
    driver.add_argument("name", help="the path being merged (git's %%P)")
    commands.add_parser(
        "next-poc",
        help="move on to the next PoC (the same as `doit next-poc`)",
        description="In a workspace whose current PoC is complete and whose next PoC's plan "
        "is written: sets poc = N+1, keeps the finished PoC verifiable, scaffolds the next "
        "PoC's steps. See `doit help next-poc`.",
    )
    args = parser.parse_args(argv)
    if args.command == "next-poc":
        from pocflow.cmd_next_poc import from_the_console

        return from_the_console()
    if args.command == "merge-driver":
        from pocflow.merge import merge_driver

        return merge_driver(args.base, args.ours, args.theirs, args.name)
    if args.command == "schema":
        text = json.dumps(manifest_schema(), indent=2, ensure_ascii=False) + "\n"
        if args.output:
            args.output.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        return 0
    if args.poc < 1:
        parser.error("--poc must be 1 or more: PoCs are numbered from 1")
    for value in (args.scripts_dir, args.tests_dir, args.docs_dir):
        if Path(value).is_absolute() or ".." in Path(value).parts:
            parser.error(f"{value}: folders must be inside the repository, relative to it")
    options = InitOptions(
        poc=args.poc,
        name=args.name,
        scripts_dir=args.scripts_dir,
        tests_dir=args.tests_dir,
        docs_dir=args.docs_dir,
    )
    made = not args.root.exists()  # (a --root mistyped would be a new folder: said first)
    try:
        result = init_workspace(args.root, options)
    except PocflowError as exc:
        sys.stderr.write(f"pocflow: {exc}\n")
        return 3
    if made:
        print(f"created {args.root}/ (the repository's folder: it was not there)")
    report(sys.stdout, result)
    print(
        f"once per clone, for clean merges of records and documents: git config "
        f"merge.pocflow.driver '{DRIVER}'"
    )
    print(
        f"then: fill in {args.docs_dir}/poc{args.poc}-implementation.md (the plan), "
        "`uv run doit scaffold` to create its steps, `uv run doit poc-complete` to verify"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
