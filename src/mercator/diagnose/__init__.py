"""Diagnose: why did it happen? Root cause of a KPI change, correlations, funnels, cohorts."""

from mercator.diagnose._analysis import Diagnosis, decompose, diagnose, root_cause
from mercator.diagnose._cohorts import Cohorts, cohorts
from mercator.diagnose._correlate import Correlations, correlations
from mercator.diagnose._funnel import Funnel, funnel

__all__ = ["Cohorts", "Correlations", "Diagnosis", "Funnel", "cohorts", "correlations", "decompose", "diagnose",
           "funnel", "root_cause"]
