"""Customer segments: segment rfm and segment cluster."""

from __future__ import annotations

from typing import Annotated

import typer

from mercator.interfaces._params import iso_date
from mercator.interfaces._params import quantiles as parse_quantiles
from mercator.interfaces.cli._common import JsonOpt, WorkspaceOpt, _analysis, app, err

segment_app = typer.Typer(help="Customer segments (RFM), saved to the workspace for audit.", no_args_is_help=True)
app.add_typer(segment_app, name="segment")


@segment_app.command("rfm")
def segment_rfm(quantiles: Annotated[str, typer.Option(help="Number of quantiles (5), or cut points such as "
                                                             "0.5,0.8,0.95.")] = "5",
                as_of: Annotated[str | None, typer.Option(help="Reference date (YYYY-MM-DD); default: the day "
                                                               "after the last order.")] = None,
                min_size: Annotated[int, typer.Option(help="Flag segments smaller than this.")] = 50,
                save: Annotated[bool, typer.Option(help="Save definitions and members to the workspace.")] = True,
                workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """RFM scores and named segments (champions, loyal, at risk...), with profiles."""
    from mercator.segment import rfm

    q = parse_quantiles(quantiles)
    _save_segments(workspace, lambda ws: rfm(ws, quantiles=q, as_of=iso_date(as_of), min_size=min_size, save=save),
                   save, as_json)


def _save_segments(workspace: str | None, run, save: bool, as_json: bool) -> None:
    """A segmentation run on a writable workspace, saying where it was saved."""
    def saved(ws):
        res = run(ws)
        if save:
            err.print(f"saved segment set {res.params['segment_set']} to segments and segment_members")
        return res

    _analysis(workspace, saved, as_json, read_only=not save)


@segment_app.command("cluster")
def segment_cluster(method: Annotated[str, typer.Option(help="kmeans (k by silhouette) or gmm (k by BIC).")]
                    = "kmeans",
                    k: Annotated[int | None, typer.Option(help="Number of segments; default: chosen from 2-8.")]
                    = None,
                    min_share: Annotated[float, typer.Option(help="Smallest segment allowed, as a share of "
                                                                  "customers.")] = 0.02,
                    rounds: Annotated[int, typer.Option(help="Bootstrap refits for stability.")] = 20,
                    as_of: Annotated[str | None, typer.Option(help="Reference date; default: the day after the "
                                                                   "last order.")] = None,
                    channel: Annotated[str | None, typer.Option(help="Only this sales channel's orders.")] = None,
                    save: Annotated[bool, typer.Option(help="Save definitions and members.")] = True,
                    workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Behavioural segments from order features, with stability and profiles in words."""
    from mercator.segment import cluster

    _save_segments(workspace, lambda ws: cluster(ws, method=method, k=k, min_share=min_share, rounds=rounds,
                                                 as_of=iso_date(as_of), channel=channel, save=save), save, as_json)

