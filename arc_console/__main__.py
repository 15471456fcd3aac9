from arc_console.cli import console

raise SystemExit(console())
