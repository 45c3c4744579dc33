"""The `cspread` command line (typer + rich), thin over the SDK; entry point `apps.cli.main:app`."""
