"""Text that reaches the terminal: every string from a wheel, a module or a path goes through
:func:`inert`, a rich ``Text`` (never parsed as markup) whose control characters are shown as
escapes, so a member named ``a[/b]`` or one holding ``ESC ] 0 ;`` is printed, not obeyed; and
the layout of lines and box tables, drawn here rather than by rich's table (whose layout cost
grew with the square of the rows).
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from rich.console import Console
from rich.text import Span, Text

# A cell's lines: each with its width in columns and its characters.
Lines = list[tuple[Text, int, str]]


def visible(text: str) -> str:
    """``text`` with every non-printable character (C0, C1, DEL, bidi overrides, line breaks)
    written as a Python escape."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def inert(text: object, style: str = "") -> Text:
    return Text(visible(str(text)), style=style)


def inert_lines(items: Iterable[object]) -> Text:
    """One inert line per item (the line breaks are ours, not the items')."""
    return Text("\n").join(inert(item) for item in items)


def warning_line(message: str) -> Text:
    return Text.assemble(("warning:", "bold yellow"), " ", inert(message))


def error_line(message: str) -> Text:
    """``error: <message>``, inert and as written: most messages begin with a path, which a
    capital letter would change into one that does not exist (``Dist/…``)."""
    return Text.assemble(("error:", "bold red"), " ", inert(message))


BLANK = Text("")


def print_text(console: Console, text: Text) -> None:
    """``console.print(text, soft_wrap=True)``; written as its characters when the console
    writes no styles (a pipe, a CI log), which is the same output without rich's layout of
    each span."""
    if console.quiet:
        return
    if console.color_system is None and not console.record:
        console.file.write(text.plain + "\n")
    else:
        console.print(text, soft_wrap=True)


def table_cells(rows: list[list[Text]]) -> list[list[Lines]]:
    """Every cell's lines, split once for both the fit check and the drawing."""
    return [[_cell_lines(cell) for cell in row] for row in rows]


def column_widths(headers: list[str], cells: list[list[Lines]]) -> list[int]:
    widths = [cell_len(header) for header in headers]
    for row in cells:
        for column, lines in enumerate(row):
            for _, width, _ in lines:
                if width > widths[column]:
                    widths[column] = width
    return widths


def box_table(headers: list[str], cells: list[list[Lines]]) -> Text:
    """The lines rich's ``Table`` (its default box, bold headers, cells never wrapped) draws
    for these cells, made as one text from one string and the cells' spans: rich lays a table
    out cell by cell, at a cost per cell many times the analysis's for a wheel whose modules
    each need hundreds of libraries.  ``tests/test_output.py`` holds the two to the same
    output."""
    widths = column_widths(headers, cells)
    pieces: list[str] = []
    spans: list[Span] = []

    def rule(left: str, fill: str, middle: str, right: str) -> str:
        return left + middle.join(fill * (width + 2) for width in widths) + right + "\n"

    pieces.append(rule("┏", "━", "┳", "┓"))
    offset = len(pieces[0]) + 1
    pieces.append("┃")
    for name, width in zip(headers, widths, strict=True):
        cell = f" {name}{' ' * (width - cell_len(name))} "
        spans.append(Span(offset, offset + len(cell), "bold"))  # the header style covers the padding
        pieces.append(cell + "┃")
        offset += len(cell) + 1
    pieces += ["\n", rule("┡", "━", "╇", "┩")]
    offset += 1 + len(pieces[-1])
    blank: tuple[Text, int, str] = (Text(), 0, "")
    for row in cells:
        for index in range(max(len(lines) for lines in row)):
            line = ["│"]
            offset += 1
            for lines, width in zip(row, widths, strict=True):
                piece, piece_width, plain = lines[index] if index < len(lines) else blank
                start = offset + 1
                if piece.style and plain:
                    spans.append(Span(start, start + len(plain), piece.style))
                for span in piece.spans:
                    spans.append(Span(start + span.start, start + span.end, span.style))
                line.append(f" {plain}{' ' * (width - piece_width)} │")
                offset += len(plain) + width - piece_width + 3
            line.append("\n")
            offset += 1
            pieces.append("".join(line))
    pieces.append(rule("└", "─", "┴", "┘"))
    return Text("".join(pieces).removesuffix("\n"), spans=spans)


def _cell_lines(cell: Text) -> Lines:
    lines = [cell] if "\n" not in cell.plain else cell.split("\n", allow_blank=True)
    return [(line, line.cell_len, line.plain) for line in lines]


def print_table(
    console: Console, title: Text, headers: list[str], rows: list[list[Text]], labelled: Iterable[int] = ()
) -> None:
    """A table when it fits the terminal unwrapped, else a list (the first column's cell on a
    line of its own, the others indented under it, a cell of several lines a line each):
    names are never cut across lines.  In the list, the ``labelled`` columns' lines start with
    their header (``RUNTIME_PATH: $ORIGIN/…``), which the table shows above them."""
    split = table_cells(rows)
    # The width with no cell wrapped: the widest line per column, plus borders and padding
    # (three characters a column, one more for the last border).
    if sum(column_widths(headers, split)) + 3 * len(headers) + 1 <= console.width:
        # The title on a line of its own: a table's title would be wrapped inside the name
        # and padded to the table's width.
        console.print(title, soft_wrap=True)
        print_text(console, box_table(headers, split))
        return
    lines = [title]
    labels = {index - 1: f"{headers[index]}: " for index in labelled}
    for first, *cells in rows:
        rest = [
            Text("\n").join(Text.assemble(labels[index], line) for line in cell.split())
            if index in labels and cell.plain
            else cell
            for index, cell in enumerate(cells)
        ]
        if first.plain:
            heading = first.copy()
            heading.stylize("bold")
            lines.append(heading)
        short = [cell for cell in rest if cell.plain and "\n" not in cell.plain]
        if short:
            lines.append(Text.assemble("  ", Text("  ").join(short)))
        lines += [Text.assemble("    ", line) for cell in rest if "\n" in cell.plain for line in cell.split()]
    # soft_wrap: no line break is put into a name; a terminal narrower than a name shows it
    # folded, but it is one line for a log, a copy or a grep.
    print_text(console, Text("\n").join(lines))


def render_notes(console: Console, notes: Iterable[str]) -> None:
    """``-v``: how resolution went (files passed over and why, where libraries were looked for)."""
    for note in notes:
        console.print(Text.assemble(("note: ", "dim"), inert(note)), soft_wrap=True)


def wrap_at_spaces(line: Text, width: int, indent: str) -> list[Text]:
    """``line`` in lines of at most ``width`` columns, broken at spaces only (a name, which
    has none, is never split: a line holding a longer one is longer), continued after
    ``indent``.  Styles are kept."""
    plain = line.plain
    if len(plain) <= width:
        return [line]
    pieces: list[Text] = []
    start, limit = 0, width
    lead = len(plain) - len(plain.lstrip(" "))  # the line's own indent is not a break
    while len(plain) - start > limit:
        floor = max(start, lead)
        cut = plain.rfind(" ", floor + 1, start + limit + 1)
        if cut < 0:  # no space in reach: break after the long name instead
            cut = plain.find(" ", max(start + limit, floor + 1))
            if cut < 0:
                break
        pieces.append(line[start:cut] if not pieces else Text.assemble(indent, line[start:cut]))
        start = cut + 1
        limit = width - len(indent)
    pieces.append(line[start:] if not pieces else Text.assemble(indent, line[start:]))
    return pieces
