"""The parts of `make bench` (scripts/bench.py) beyond running wrk: what each path needs
prepared, the end-to-end timings at a steady rate, and each process's memory during the runs."""
