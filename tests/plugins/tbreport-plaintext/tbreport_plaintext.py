"""A tbreport output format: ``report.txt`` with the title and each run's last value per tag."""

from __future__ import annotations

import datetime as dt

from tbreport.formats import (
    Artifacts,
    Options,
    OutputFile,
    Rendered,
    Report,
    format_number,
    text_line,
)


class Plaintext:
    name = "plaintext"  # what --format takes

    def needs(self, options: Options) -> frozenset[str]:
        return frozenset()  # text only: no chart images or data files to make

    def check(self, report: Report, options: Options, now: dt.datetime | None) -> None:
        pass  # any report fits in a text file

    def render(self, report: Report, options: Options, artifacts: Artifacts) -> Rendered:
        # run and tag names are untrusted: text_line keeps each on its line, controls inert
        lines = [text_line(report.title), ""]
        for chart in report.scalar_charts:  # the other kinds' elements have no lines
            last = [
                f"{text_line(line.run)}={format_number(line.summary.last_value)}"
                for line in chart.lines
            ]
            lines.append(f"{text_line(chart.tag)}: {', '.join(last)}")
        text = "\n".join(lines) + "\n"
        # a rebuild replaces the files of the same manifest key, here report.txt
        return Rendered((OutputFile("report.txt", text.encode("utf-8")),), manifest_key="plaintext")


FORMAT = Plaintext()
