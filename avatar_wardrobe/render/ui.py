"""The app's DirectGUI panel: wardrobe, sizes, colours, bodies, toggles, HUD and the first-run hint."""
from __future__ import annotations

from dataclasses import dataclass, field

from direct.gui.DirectGui import DGG, DirectButton, DirectCheckButton, DirectFrame, DirectLabel, DirectSlider
from direct.gui.OnscreenText import OnscreenText
from panda3d.core import TextNode

PANEL_COLOUR = (0.08, 0.09, 0.11, 0.82)
TEXT_COLOUR = (0.92, 0.92, 0.95, 1)
DISABLED_TEXT = (0.55, 0.55, 0.6, 1)
BUTTON_COLOUR = (0.22, 0.24, 0.3, 1)
SELECTED_COLOUR = (0.25, 0.45, 0.75, 1)
SCALE = 0.045
ROW = 0.085
KEYS_HINT = ("keys: 1-6 garments   S M L X sizes   V colour   B body   C cloth   F fit map   R refine\n"
             "A AR mode   M mirror   P screenshot   O record   H this hint   Esc quit")


@dataclass
class Control:
    """One UI control: a label, the messenger event it sends, and why it is disabled (if it is)."""

    label: str
    event: str
    args: list = field(default_factory=list)
    disabled_reason: str = ""
    toggle: bool = False
    checked: bool = False


class Panel:
    """A column of labelled rows of buttons on the left, the HUD top-right, a hint at the bottom."""

    def __init__(self, base):
        self.base = base
        self.frame = DirectFrame(frameColor=PANEL_COLOUR, frameSize=(0, 0.78, -1.95, 0),
                                 pos=(-base.getAspectRatio() + 0.02, 0, 0.98))
        self.y = -0.07
        self.buttons: dict[str, object] = {}
        self.reasons: dict[str, str] = {}
        self.hud = OnscreenText(text="", pos=(base.getAspectRatio() - 0.03, 0.92), scale=0.042,
                                align=TextNode.ARight, fg=TEXT_COLOUR, shadow=(0, 0, 0, 0.8), mayChange=True)
        self.hint = OnscreenText(text=KEYS_HINT, pos=(0, -0.9), scale=0.042, fg=TEXT_COLOUR, bg=(0, 0, 0, 0.55),
                                 shadow=(0, 0, 0, 1), mayChange=True)
        self.status = OnscreenText(text="", pos=(0.2, -0.8), scale=0.04, fg=(1, 0.85, 0.5, 1), mayChange=True)

    def heading(self, text: str) -> None:
        DirectLabel(parent=self.frame, text=text, text_fg=TEXT_COLOUR, text_align=TextNode.ALeft,
                    frameColor=(0, 0, 0, 0), scale=SCALE * 1.05, pos=(0.03, 0, self.y))
        self.y -= ROW * 0.8

    def row(self, controls: list[Control], width: float = 0.74) -> None:
        step = width / max(1, len(controls))
        for i, c in enumerate(controls):
            kwargs = dict(parent=self.frame, text=c.label, scale=SCALE, text_fg=TEXT_COLOUR,
                          frameColor=BUTTON_COLOUR, pad=(0.25, 0.2), pos=(0.04 + step * (i + 0.5), 0, self.y),
                          command=self._send, extraArgs=[c.event, c.args])
            if c.toggle:
                widget = DirectCheckButton(boxPlacement="left", **kwargs)
                widget["extraArgs"] = [c.event, c.args]
                widget["command"] = lambda checked, ev=c.event, args=c.args: self._send(ev, args + [bool(checked)])
                widget["indicatorValue"] = c.checked
                widget.setIndicatorValue()
            else:
                widget = DirectButton(**kwargs)
            if c.disabled_reason:
                widget["state"] = DGG.DISABLED
                widget["text_fg"] = DISABLED_TEXT
                self.reasons[c.event] = c.disabled_reason
            self.buttons[f"{c.event}:{c.args}"] = widget
        self.y -= ROW

    def slider(self, label: str, event: str, value: float, lo: float, hi: float, disabled_reason: str = "") -> None:
        DirectLabel(parent=self.frame, text=label, text_fg=DISABLED_TEXT if disabled_reason else TEXT_COLOUR,
                    frameColor=(0, 0, 0, 0), scale=SCALE * 0.9, pos=(0.12, 0, self.y - 0.01))
        s = DirectSlider(parent=self.frame, range=(lo, hi), value=value, scale=0.22, pos=(0.5, 0, self.y),
                         command=lambda: None)
        s["command"] = lambda: self.base.messenger.send(event, [s["value"]])
        if disabled_reason:
            s["state"] = DGG.DISABLED
            self.reasons[event] = disabled_reason
        self.y -= ROW * 0.8

    def note(self, text: str) -> None:
        DirectLabel(parent=self.frame, text=text, text_fg=DISABLED_TEXT, text_align=TextNode.ALeft,
                    frameColor=(0, 0, 0, 0), scale=SCALE * 0.62, pos=(0.03, 0, self.y), text_wordwrap=32)
        self.y -= ROW * 0.55 * (1 + len(text) // 60)

    def select(self, event: str, args: list) -> None:
        """Highlight the chosen button of a group (same event)."""
        for key, widget in self.buttons.items():
            if key.startswith(f"{event}:") and not self.reasons.get(event):
                widget["frameColor"] = SELECTED_COLOUR if key == f"{event}:{args}" else BUTTON_COLOUR

    def set_checked(self, event: str, on: bool) -> None:
        """Show a toggle's state (when a key changed it) without sending its event again."""
        widget = self.buttons.get(f"{event}:[]")
        if isinstance(widget, DirectCheckButton):
            widget["indicatorValue"] = bool(on)
            widget.setIndicatorValue()

    def _send(self, event: str, args: list) -> None:
        self.base.messenger.send(event, list(args))

    def show_status(self, text: str) -> None:
        self.status.setText(text)

    def toggle_hint(self) -> None:
        self.hint.show() if self.hint.isHidden() else self.hint.hide()
