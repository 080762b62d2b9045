"""The individual measurements; each module has one run_*(bench) function per section group."""
