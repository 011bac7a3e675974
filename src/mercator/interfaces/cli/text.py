"""What customers say: text sentiment, text keywords, text topics."""

from __future__ import annotations

from typing import Annotated

import typer

from mercator.interfaces.cli._common import JsonOpt, WorkspaceOpt, _file_or_workspace, app

text_app = typer.Typer(help="Sentiment, keywords and topics of texts (reviews, posts, support chats, ad copy).",
                       no_args_is_help=True)
app.add_typer(text_app, name="text")

DataOpt = Annotated[str | None, typer.Option("--data", help="A CSV, TSV or Parquet file of texts; default: the "
                                                            "workspace's content table.")]
TextOpt = Annotated[str, typer.Option("--text", help="The column holding the text.")]


@text_app.command("sentiment")
def text_sentiment(data: DataOpt = None, text: TextOpt = "text",
                   label: Annotated[str | None, typer.Option(help="The column of known labels (the classes to "
                                                                  "learn); --no-label: none.")] = "label",
                   no_label: Annotated[bool, typer.Option("--no-label", help="Ignore any label column.")] = False,
                   time: Annotated[str | None, typer.Option(help="A date or time column: the negative share per "
                                                                 "day and its lasting changes.")] = None,
                   group: Annotated[str | None, typer.Option(help="A column to compare (brand, product, "
                                                                  "channel).")] = None,
                   method: Annotated[str, typer.Option(help="auto, tfidf (train on the labels) or vader (a "
                                                            "lexicon; weak).")] = "auto",
                   test_size: Annotated[float, typer.Option(help="Share of the labelled texts held out.")] = 0.2,
                   seed: Annotated[int, typer.Option(help="Seed of the split and the model.")] = 0,
                   workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Sentiment of every text, the model's held-out quality, and the negative share over time
    and by group. Use --output FILE.csv for every text's sentiment."""
    from mercator.interfaces.cli._common import _STATE
    from mercator.text import sentiment

    def run(ws):
        return sentiment(ws, data or "content", text=text, label=None if no_label else label, time_column=time,
                         group=group, method=method, test_size=test_size, seed=seed,
                         keep_documents=bool(_STATE.get("output")))

    _file_or_workspace(workspace, data, run, as_json)


@text_app.command("keywords")
def text_keywords(data: DataOpt = None, text: TextOpt = "text",
                  group: Annotated[str | None, typer.Option(help="A column whose values are the groups (ad "
                                                                 "group, product, page).")] = None,
                  top: Annotated[int, typer.Option(help="Keywords per group.")] = 10,
                  method: Annotated[str, typer.Option(help="auto, mmr (sentence embeddings) or yake.")] = "auto",
                  diversity: Annotated[float, typer.Option(help="MMR's weight on variety, 0 to 1.")] = 0.5,
                  workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The keywords of each group of texts, for ad groups or to watch."""
    from mercator.text import keywords

    _file_or_workspace(workspace, data, lambda ws: keywords(ws, data or "content", text=text, group=group, top=top,
                                                             method=method, diversity=diversity), as_json)


@text_app.command("topics")
def text_topics(data: DataOpt = None, text: TextOpt = "text",
                label: Annotated[str, typer.Option(help="A sentiment label column: each topic's negative "
                                                        "share (used where the source has it).")] = "label",
                time: Annotated[str | None, typer.Option(help="A date or time column: when a topic turned "
                                                              "negative.")] = None,
                k: Annotated[int | None, typer.Option(help="Number of topics; default: chosen by "
                                                           "silhouette (4-12).")] = None,
                method: Annotated[str, typer.Option(help="auto, embedding or nmf.")] = "auto",
                seed: Annotated[int, typer.Option(help="Seed of the clustering.")] = 0,
                workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Topics of the texts, named by their telling phrases, with each one's negative share."""
    from mercator.text import topics

    _file_or_workspace(workspace, data, lambda ws: topics(ws, data or "content", text=text, label=label,
                                                           time_column=time, k=k, method=method, seed=seed), as_json)
