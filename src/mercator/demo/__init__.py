"""The demo company: a seeded, scalable synthetic business with known ground truth.

``generate(size, seed)`` returns the tables and the truth (pure, no I/O).
``build_demo_workspace(path)`` writes them as Parquet files beside the workspace, with
``truth.json``, and loads them through the ordinary ingest path, so the demo exercises the
same code as real data.
"""

from mercator.demo._build import DemoData, build_demo_workspace, generate, write_demo_files
from mercator.demo._generate import SIZES, geometric_adstock, hill

__all__ = ["SIZES", "DemoData", "build_demo_workspace", "generate", "geometric_adstock", "hill",
           "write_demo_files"]
