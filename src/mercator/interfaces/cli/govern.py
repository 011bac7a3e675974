"""Govern: govern retention, pii, rotate-key, dsar export|erase, verify, export --for-partner, dpia."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mercator.interfaces._params import csv_list, iso_time
from mercator.interfaces.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    _analysis,
    _file_or_workspace,
    app,
)


def _judged(runner, analysis, verdict: str) -> None:
    """Run ``analysis`` as every command does (``runner`` opens, prints, handles errors), then
    exit 1 when the result's ``params[verdict]`` is false: a check that failed, a gate that refused."""
    held = {}

    def run(ws):
        held["res"] = analysis(ws)
        return held["res"]

    runner(run)
    if "res" in held and not held["res"].params[verdict]:
        raise typer.Exit(1)


govern_app = typer.Typer(help="Governance: retention, personal data, key rotation, subject requests, the audit trail, "
                                "partner exports, the impact assessment.", no_args_is_help=True)
app.add_typer(govern_app, name="govern")


@govern_app.command("retention")
def govern_retention(apply: Annotated[bool, typer.Option("--apply/--dry-run", help="Delete what is past its "
                                                                                  "period (default: count only).")]
                     = False,
                     now: Annotated[str | None, typer.Option(help="Count as of this time, UTC (default: now).")] = None,
                     workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Rows past their retention period per table (docs/governance.md, "Retention"); with
    --apply they are deleted in one transaction and the counts go to the audit trail."""
    from mercator.govern import retention

    _analysis(workspace, lambda ws: retention(ws, now=iso_time(now, "--now"), apply=apply), as_json,
              read_only=not apply)


@govern_app.command("pii")
def govern_pii(tables: Annotated[str | None, typer.Option(help="Tables to scan, comma-separated (default: those "
                                                                "that hold free text).")] = None,
               protect: Annotated[str | None, typer.Option(help="Rewrite what is found: pseudonymize (its keyed "
                                                                "pseudonym) or redact.")] = None,
               workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Personal data (e-mails, phones, cards, IBANs, IP addresses) in the text columns no tag
    covers, found by Presidio's recognizers; --protect rewrites it in place."""
    from mercator.govern import scan_pii

    _analysis(workspace, lambda ws: scan_pii(ws, csv_list(tables) or None, protect_how=protect), as_json,
              read_only=protect is None)


dsar_app = typer.Typer(help="Subject requests: everything held about a person, exported or erased.",
                       no_args_is_help=True)
govern_app.add_typer(dsar_app, name="dsar")
Identifier = Annotated[str, typer.Argument(help="The person: an e-mail, a phone number or a customer id (hashed "
                                                "as ingest does before it is looked up).")]


@dsar_app.command("export")
def dsar_export_cmd(identifier: Identifier,
                    output: Annotated[Path | None, typer.Option(help="Folder for the bundle (JSON and a CSV per "
                                                                     "table).")] = None,
                    workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Every row held about the person, across every table (derived ones included)."""
    from mercator.govern import dsar_export

    _analysis(workspace, lambda ws: dsar_export(ws, identifier, output), as_json, read_only=False)


@dsar_app.command("erase")
def dsar_erase_cmd(identifier: Identifier, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Erase the person: their rows removed (orders kept with the customer cleared) in one
    transaction, the models to retrain listed, the request recorded."""
    from mercator.govern import dsar_erase

    _analysis(workspace, lambda ws: dsar_erase(ws, identifier), as_json, read_only=False)


@govern_app.command("rotate-key")
def govern_rotate_key(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Re-hash every pseudonym under a new pseudonymization key, in one transaction, and add the
    key to the settings file's key chain: rows loaded before and after still join; an old key
    alone no longer matches anything stored (docs/governance.md, "Key rotation")."""
    from mercator.govern import rotate_key

    _analysis(workspace, rotate_key, as_json, read_only=False)


@govern_app.command("verify")
def govern_verify(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Verify the audit trail: every link of its hash chain, and its end against the head kept
    outside the database. Exits 1 when it was tampered with."""
    from mercator.govern import verify_audit

    _judged(lambda run: _analysis(workspace, run, as_json), verify_audit, "intact")


@govern_app.command("export")
def govern_export(data: Annotated[str, typer.Argument(help="A CSV or Parquet file, or a workspace table.")],
                  quasi: Annotated[str, typer.Option(help="The quasi-identifiers, comma-separated: columns that "
                                                          "together could single a person out.")],
                  for_partner: Annotated[bool, typer.Option("--for-partner", help="Check it for a partner "
                                                                                  "(required: the gate).")] = False,
                  sensitive: Annotated[str | None, typer.Option(help="The sensitive column (l-diversity).")] = None,
                  k: Annotated[int, typer.Option(help="Least rows per group of quasi-identifiers.", min=2)] = 5,
                  l: Annotated[int, typer.Option(help="Least distinct sensitive values per group.", min=1)] = 2,
                  output: Annotated[Path | None, typer.Option(help="Where to write it when it passes.")] = None,
                  workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The sharing gate: DATA leaves for a partner only with k-anonymity >= k and l-diversity
    >= l on the declared quasi-identifiers; otherwise nothing is written, generalizations that
    would pass are suggested, and the command exits 1."""
    from mercator.govern import sharing_gate

    if not for_partner:
        raise typer.BadParameter("say who it is for: --for-partner (the only export the gate serves for now)")
    _judged(lambda run: _file_or_workspace(workspace, data, run, as_json),
            lambda ws: sharing_gate(data, ws=ws, quasi=csv_list(quasi), sensitive=sensitive, k=k, l=l, output=output),
            "passes")


@govern_app.command("dpia")
def govern_dpia(output: Annotated[Path | None, typer.Option(help="Write the draft as Markdown here.")] = None,
                workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The impact assessment's draft from the schema's personal-data tags, the purposes and
    their consent, the retention policies and the flows, with the risks that apply."""
    from mercator.govern import dpia, dpia_markdown

    def run(ws):
        res = dpia(ws)
        if output is not None:
            output.write_text(dpia_markdown(res), encoding="utf-8")
        return res

    _analysis(workspace, run, as_json)
