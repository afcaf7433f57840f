"""The Jekyll format: a post under ``_posts/`` and its chart images and data under ``assets/``.

When the output folder is not yet a Jekyll site, a minimal GitHub Pages one is scaffolded
(written only when missing, never replaced).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tbreport.formats import Artifacts, FutureDateError, Rendered, context, figures
from tbreport.formats.interactive import SCRIPTS, SITE_ASSETS, site_files
from tbreport.formats.page import front_matter, items, page_of
from tbreport.formats.render import Renderer
from tbreport.model import DataWarning, Report, WarningKind
from tbreport.options import Options
from tbreport.output import OutputFile
from tbreport.report import post_slug


def published_source(options: Options) -> tuple[DataWarning, ...]:
    """A warning when the ``--source`` post sits where Jekyll would publish it from the site
    folder: a page (or a copied file) showing its blocks as code, beside the post built."""
    if options.format != "jekyll" or not options.source:
        return ()
    site = Path(options.out).resolve()
    try:
        where = Path(options.source).resolve().relative_to(site)
    except ValueError:
        return ()  # outside the site: where it belongs
    # Jekyll leaves out names starting with _ or . (but makes posts of _posts)
    if any(p.startswith((".", "_")) for p in where.parts) and where.parts[0] != "_posts":
        return ()
    if _excluded(site / "_config.yml", where.as_posix()):
        return ()
    return (
        DataWarning(
            WarningKind.SOURCE_PUBLISHED.value,
            f"The source post '{options.source}' is inside the Jekyll site '{options.out}': "
            "Jekyll publishes it as a page of its own, its tbreport blocks shown as code. "
            "Keep it outside the site, in a folder whose name starts with '_', or list it "
            "under exclude: in _config.yml.",
            path=options.source,
        ),
    )


def _excluded(config: Path, name: str) -> bool:
    """Whether the site's ``_config.yml`` ``exclude:`` names ``name`` or a folder of it."""
    import yaml  # type: ignore[import-untyped]

    try:
        listed = yaml.safe_load(config.read_text(encoding="utf-8")).get("exclude") or []
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
        return False
    for entry in listed if isinstance(listed, list) else []:
        entry = str(entry).strip("/")
        if entry and (name == entry or name.startswith(entry + "/")):
            return True
    return False


def site_timezone(date: dt.datetime) -> str:
    """A TZ value under which Jekyll keeps the post's own date and time (its UTC offset).

    Whole hours use the tz database's ``Etc/GMT-5`` names (whose sign is inverted, POSIX-style);
    other offsets a POSIX TZ string such as ``<+0530>-05:30``, which Jekyll passes to the C
    library as it is.
    """
    offset = date.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "Etc/UTC"
    sign = "-" if minutes > 0 else "+"  # POSIX: hours west of Greenwich are positive
    hours, rest = divmod(abs(minutes), 60)
    if rest == 0 and hours <= (12 if sign == "+" else 14):  # the Etc zones that exist
        return f"Etc/GMT{sign}{hours}"
    name = f"{'+' if minutes > 0 else '-'}{hours:02d}{rest:02d}"
    return f"<{name}>{sign}{hours:02d}:{rest:02d}"


class Jekyll:
    name = "jekyll"

    def needs(self, options: Options) -> frozenset[str]:
        return frozenset({"images", "data"})

    def check(self, report: Report, options: Options, now: dt.datetime | None) -> None:
        current = (now or dt.datetime.now().astimezone()).replace(microsecond=0)
        if report.date > current:
            raise FutureDateError(
                f"The post date {report.date.isoformat()} (--date) is in the future; Jekyll "
                "skips future posts without a word. Give today's date or an earlier one."
            )

    def render(self, report: Report, options: Options, artifacts: Artifacts) -> Rendered:
        slug = post_slug(report)
        assets = f"assets/images/{slug}"
        ext = options.image_format
        image_urls = [
            None if img is None else f"/{assets}/{chart.slug}.{ext}"
            for chart, img in zip(report.charts, artifacts.images, strict=True)
        ]
        data_urls = [
            None if d is None else f"/{assets}/{chart.slug}.csv"
            for chart, d in zip(report.charts, artifacts.data, strict=True)
        ]
        file_urls = [{m.name: f"/{assets}/{m.name}" for m in media} for media in artifacts.files]
        ctx = context(report, options, figures(report, image_urls, data_urls, file_urls))
        ctx["slug"] = slug
        extra: dict[str, bytes] = {}
        ctx["page"] = None
        if options.interactive:
            data_path = f"{assets}/charts.js"
            extra = site_files(report, options, data_path)
            # uPlot, then the post's data, then the script that draws from both
            ctx["page"] = {
                "css": f"/{SITE_ASSETS}/charts.css",
                "scripts": [f"/{SITE_ASSETS}/{SCRIPTS[0]}", f"/{data_path}"]
                + [f"/{SITE_ASSETS}/{name}" for name in SCRIPTS[1:]],
            }
        ctx["items"] = items(report, page_of(report, self.name), ctx["figures"], self.name)
        ctx["front_matter"] = front_matter(dict(report.front_matter)) if report.front_matter else ""
        renderer = Renderer.of(options)
        post = renderer.render("post.md.j2", ctx, autoescape=False)
        post_path = f"_posts/{report.date.strftime('%Y-%m-%d')}-{slug}.md"
        files = [OutputFile(post_path, post.encode("utf-8"))]
        for chart, img, csv_bytes in zip(
            report.charts, artifacts.images, artifacts.data, strict=True
        ):
            if img:  # kinds with nothing to draw (text, tables) give no image
                files.append(OutputFile(f"{assets}/{chart.slug}.{ext}", img))
            if csv_bytes is not None:
                files.append(OutputFile(f"{assets}/{chart.slug}.csv", csv_bytes))
        files.extend(OutputFile(f"{assets}/{m.name}", m.data) for ms in artifacts.files for m in ms)
        files.extend(OutputFile(path, data) for path, data in extra.items())
        if not (Path(options.out) / "_config.yml").exists():
            site = {
                "title": report.title,
                "options": options,
                "timezone": site_timezone(report.date),
            }
            for name in ("_config.yml", "index.md"):
                text = renderer.render(f"site/{name}.j2", site, autoescape=False)
                files.append(OutputFile(name, text.encode("utf-8"), scaffold=True))
        # one manifest entry per post, so posts of one blog do not replace each other
        return Rendered(tuple(files), manifest_key=f"post:{slug}")


FORMAT = Jekyll()
