"""The contenders of ``bench/store_bench.py``, one module each, run in separate processes."""
