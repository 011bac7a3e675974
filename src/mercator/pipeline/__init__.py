"""The whole analysis cycle on a workspace, step by step (what ``mercator run`` reports)."""

from mercator.pipeline._steps import FUNNEL_STEPS, STEPS, Pipeline, Section, Step, run_pipeline

__all__ = ["FUNNEL_STEPS", "STEPS", "Pipeline", "Section", "Step", "run_pipeline"]
