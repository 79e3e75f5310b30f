"""Tools for developing the kit, not for using it: the demo, the benchmarks and the pgTAP
runner. Nothing users import depends on this package."""
