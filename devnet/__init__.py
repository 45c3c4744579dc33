"""The local devnet: anvil, the deploy (the ape project under devnet/project), and the process
supervisor that starts the reporters, keepers, relay, market maker and dashboard by PID."""
