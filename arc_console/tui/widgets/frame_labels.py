"""Border titles and subtitles that repaint only their own row.

Setting Widget.border_title (or border_subtitle) repaints the whole widget, every line of it through Textual's
border and padding machinery, although only the frame's top (or bottom) row shows it. For a panel whose title
says which step it shows, that is a full repaint every step for one changed row.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.geometry import Region
from textual.widget import Widget


class FrameLabels(Widget):
    """A widget whose border title and subtitle are set through set_border_title and set_border_subtitle."""

    _repaint_only: Region | None = None

    def set_border_title(self, title: Text | str | None) -> None:
        self._set_frame_label("border_title", title, top=True)

    def set_border_subtitle(self, subtitle: Text | str | None) -> None:
        self._set_frame_label("border_subtitle", subtitle, top=False)

    def _set_frame_label(self, attribute: str, label: Text | str | None, top: bool) -> None:
        self._repaint_only = self._frame_row(top)
        try:
            setattr(self, attribute, label)
        finally:
            self._repaint_only = None

    def _frame_row(self, top: bool) -> Region | None:
        """The frame's top or bottom row in content coordinates (what Widget.refresh takes); None before the
        first layout (then the whole widget is painted anyway)."""
        width, height = self.outer_size
        if not self.is_mounted or not height:
            return None
        left, above = self.content_offset
        return Region(-left, -above if top else height - 1 - above, width, 1)

    def refresh(self, *regions: Region, **kwargs: Any) -> Any:
        if self._repaint_only is not None and not regions and not kwargs:
            regions = (self._repaint_only,)
        return super().refresh(*regions, **kwargs)
