"""Training: the model-agnostic trainer, one run end to end (config, validation, execution), the
run store (SQLite + checkpoints), the background run manager with its queue and backends (worker
processes, Ray), fair CPU shares between runs, sweeps, and searches (Ray Tune with ASHA on Ray).

May import ``models``, ``graphs``, ``data`` and the base modules; never ``analysis`` or ``figures``.
"""
