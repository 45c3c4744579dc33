"""The `cspread` command line (typer + rich), thin over the SDK; entry point `sdk.cli.main:app`."""
