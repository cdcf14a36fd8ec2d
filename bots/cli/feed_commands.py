"""``qa feeds add|list|remove`` and ``qa refresh``: the feeds and sitemaps that keep the archive fresh."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from bots.cli.app import JsonOption, app, err, out, settings
from bots.cli.commands import finish_report
from bots.cli.docs import print_records
from bots.cli.progress_bar import progress_bar
from qa.engine import Engine

feeds_app = typer.Typer(
    help="The RSS/Atom feeds and sitemaps polled by `qa refresh` (and `qa serve --refresh`).",
    invoke_without_command=True,
)
app.add_typer(feeds_app, name="feeds")
FeedUrl = Annotated[str, typer.Argument(help="An http(s) URL of an RSS or Atom feed, or an XML sitemap.")]


@feeds_app.callback()
def feeds_default(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the registered feeds: URL, kind, title, last poll and its problem."""
    if ctx.invoked_subcommand is None:
        _list_feeds(ctx, as_json)


@feeds_app.command("list")
def feeds_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the registered feeds: URL, kind, title, last poll and its problem."""
    _list_feeds(ctx, as_json)


def _list_feeds(ctx: typer.Context, as_json: bool) -> None:
    engine = Engine(settings(ctx))
    feeds = engine.feeds()
    table = Table(box=None)
    for name in ("url", "kind", "title", "last poll (UTC)", "problem"):
        table.add_column(name, overflow="fold")  # wrapped, never cut: a URL is copied from here
    for feed in feeds:
        table.add_row(feed.url, feed.kind, feed.title or "", feed.polled or "never", feed.error or "")
    print_records(feeds, table, as_json, "No feeds yet: `qa feeds add URL` adds one.")


@feeds_app.command("add")
def feeds_add(ctx: typer.Context, url: FeedUrl, as_json: JsonOption = False) -> None:
    """Register a feed or sitemap and index its articles now; `qa refresh` reads it again later."""
    engine = Engine(settings(ctx))
    registered = {f.url for f in engine.feeds()}
    feed = engine.add_feed(url)  # its URL as stored (normalized), so one written differently matches
    if not as_json:
        named = f"{feed.kind} feed {feed.url}" + (f" ({feed.title})" if feed.title else "")
        out.print(
            f"{named} is already registered" if feed.url in registered else f"added {named}", markup=False
        )
    with progress_bar() as progress:
        report = engine.refresh([feed.url], progress)
    stats = engine.stats()
    finish_report(report, stats, as_json)


@feeds_app.command("remove")
def feeds_remove(ctx: typer.Context, url: FeedUrl) -> None:
    """Stop polling a feed; the articles read from it stay (`qa docs remove` removes those)."""
    engine = Engine(settings(ctx))
    engine.remove_feed(url)
    out.print(f"removed feed {url}")


@app.command()
def refresh(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Poll every registered feed once: only new or changed articles are fetched and embedded.

    Exit status: 0 all read, 3 some pages skipped (each named in a warning), 1 failure.
    """
    engine = Engine(settings(ctx))
    if not engine.feeds():
        hint = "No feed is registered, so there is nothing to refresh: `qa feeds add URL` adds one."
        (err if as_json else out).print(hint, markup=False)
        if not as_json:  # --json still prints the (empty) report its reader expects
            return
    with progress_bar() as progress:
        report = engine.refresh(progress=progress)
    stats = engine.stats()
    finish_report(report, stats, as_json)
