"""GPU memory (with this process's share), utilisation, temperature and power; host CPU/RAM without a GPU."""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from arc_console.monitor.hardware import HardwareSample
from arc_console.terminal.textsafe import one_line

GB = 1024**3


def memory_bar(used: int, total: int, own: int | None, width: int = 24) -> Text:
    """A bar of `width` cells: this process's share, the rest of used memory, then free."""
    total = max(total, 1)
    own_cells = round(width * min(own or 0, used) / total)
    used_cells = max(round(width * used / total), own_cells)
    bar = Text()
    bar.append("█" * own_cells, style="bold green")
    bar.append("█" * (used_cells - own_cells), style="yellow")
    bar.append("░" * (width - used_cells), style="dim")
    return bar


def hardware_table(sample: HardwareSample, width: int = 60) -> Text:
    """The panel's rows for `width` columns: the memory bars shrink so that no row wraps. Plain lines of
    Text, not a Rich table: a table is laid out again at every repaint."""
    bar = max(6, min(24, width - 18))
    table = _Rows()
    for gpu in sample.gpus:
        head = Text.assemble((f"GPU {gpu.index} ", "bold"), one_line(str(gpu.name), 40))
        details = Text(f"{gpu.memory_used / GB:.1f} / {gpu.memory_total / GB:.0f} GB")
        table.add_row(head)
        table.add_row(Text.assemble(memory_bar(gpu.memory_used, gpu.memory_total, gpu.process_memory, bar), " ", details))
        extras = []
        if gpu.process_memory is not None:
            extras.append(f"{sample.process_label} {gpu.process_memory / GB:.1f} GB")
        if gpu.utilization is not None:
            extras.append(f"util {gpu.utilization}%")
        if gpu.temperature is not None:
            extras.append(f"{gpu.temperature}°C")
        if gpu.power_w is not None:
            extras.append(f"{gpu.power_w:.0f} W")
        table.add_row(Text("  ".join(extras), style="dim", overflow="fold"))
    if not sample.gpus:
        table.add_row(Text(sample.gpu_note or "no GPU", style="italic"))
    if sample.host is not None:
        host = sample.host
        table.add_row(Text.assemble(("host ", "bold"), f"CPU {host.cpu_percent:.0f}%"))
        table.add_row(Text.assemble(memory_bar(host.memory_used, host.memory_total, host.process_rss, bar), " ",
                                    f"RAM {host.memory_used / GB:.1f} / {host.memory_total / GB:.0f} GB"))
        own = f"{host.process_rss / GB:.2f} GB" if host.process_rss is not None else "-"
        table.add_row(Text(f"{sample.process_label} {own}", style="dim"))
    return table.text


class _Rows:
    """Rows of Text, one a line."""

    def __init__(self) -> None:
        self.text = Text()

    def add_row(self, row: Text) -> None:
        if self.text:
            self.text.append("\n")
        self.text.append_text(row)


class GpuPanel(Widget):
    """Fixed-size panel (its size comes from the layout): a new sample repaints the lines it changed (mostly the
    host's CPU and memory), no layout pass. Its lines are made once per sample and served through the line API."""

    DEFAULT_CSS = "GpuPanel { border: round $primary; padding: 0 1; height: 100%; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._body = Text("sampling …", style="dim")
        self._sample: HardwareSample | None = None
        self._lines: list[Strip] | None = None  # _body cut into lines over this panel's background

    def on_mount(self) -> None:
        self.border_title = "hardware"
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._changed())

    def on_unmount(self) -> None:
        self.app.theme_changed_signal.unsubscribe(self)

    def show(self, sample: HardwareSample) -> None:
        title = "GPU" if sample.gpus else "hardware (no GPU)"
        if title != self.border_title:
            self.border_title = title
        self._sample = sample
        body = hardware_table(sample, self.content_size.width)
        if body == self._body:  # a sample that reads the same costs nothing
            return
        self._body = body
        shown = self._lines
        if shown is None or not self.is_mounted:
            self._changed()
            return
        lines = self._lines = self._made_lines()
        width = self.content_size.width
        changed = [Region(0, y, width, 1) for y in range(max(len(shown), len(lines)))
                   if y >= len(shown) or y >= len(lines) or shown[y] != lines[y]]
        if changed:
            self.refresh(*changed)

    def _changed(self) -> None:
        self._lines = None
        self.refresh()

    def _made_lines(self) -> list[Strip]:
        base, width = self.rich_style, max(1, self.content_size.width)
        console = self.app.console
        return [Strip(list(line.render(console, end="")), line.cell_len).extend_cell_length(width, base)
                .apply_style(base) for line in self._body.wrap(console, width, overflow="fold")]

    def on_resize(self) -> None:
        if self._sample is not None:
            self.show(self._sample)
        self._changed()

    def render_line(self, y: int) -> Strip:
        if self._lines is None:
            self._lines = self._made_lines()
        return self._lines[y] if y < len(self._lines) else Strip.blank(self.content_size.width, self.rich_style)
