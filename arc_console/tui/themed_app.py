"""What every arc-console App holds besides its one screen: the themes (installed at start, cycled by
`app.next_theme`) and the size classes the stylesheets select on."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.app import App

from arc_console.terminal.textsafe import one_line
from arc_console.tui.size_classes import apply_size_classes
from arc_console.tui.themes import DEFAULT_THEME, ThemeError, load_theme_file, load_themes


class ThemedApp(App[int]):
    """Subclasses pass the requested theme (a name or a .toml file) and return their screen from
    get_default_screen; screens bind `app.next_theme` to cycle the themes."""

    def __init__(self, theme: str | None = None) -> None:
        super().__init__()
        self.requested_theme = theme
        self.theme_names: list[str] = []

    def on_mount(self) -> None:
        apply_size_classes(self, self.size.width, self.size.height)
        self.install_themes()

    def on_resize(self, event: events.Resize) -> None:
        apply_size_classes(self, event.size.width, event.size.height)

    def install_themes(self) -> None:
        """Register the bundled themes and the requested one; a theme that cannot be used is a warning."""
        themes, problems = load_themes()
        for theme in themes:
            self.register_theme(theme)
        self.theme_names = [t.name for t in themes]
        for problem in problems:
            self.notify(one_line(f"theme skipped: {problem}"), severity="warning", timeout=8, markup=False)
        wanted = self.requested_theme or DEFAULT_THEME
        if self.requested_theme and Path(self.requested_theme).suffix == ".toml":
            try:
                theme = load_theme_file(Path(self.requested_theme))
            except ThemeError as exc:
                self.notify(one_line(f"{exc}; using {DEFAULT_THEME}"), severity="warning", timeout=8, markup=False)
                wanted = DEFAULT_THEME
            else:
                self.register_theme(theme)
                self.theme_names.append(theme.name)
                wanted = theme.name
        if wanted not in self.available_themes:
            if self.requested_theme:
                self.notify(one_line(f"unknown theme {self.requested_theme!r}; using {DEFAULT_THEME}"),
                            severity="warning", markup=False)
            wanted = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        self.theme = wanted

    def action_next_theme(self) -> None:
        names = self.theme_names or [self.theme]
        position = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(position + 1) % len(names)]
        self.notify(one_line(f"theme: {self.theme}"), timeout=2, markup=False)
