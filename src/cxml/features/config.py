"""Which features to build: windows, event types, channels, survey types, PII to leave out."""

from __future__ import annotations

from dataclasses import dataclass

from cxml.config import DEFAULT_PII_COLUMNS, KNOWN_CHANNELS, KNOWN_EVENT_TYPES


@dataclass(frozen=True)
class FeatureConfig:
    windows: tuple[int, ...] = (7, 30, 90, 365)
    event_types: tuple[str, ...] = tuple(t for t in KNOWN_EVENT_TYPES if t != "cancel")
    channels: tuple[str, ...] = KNOWN_CHANNELS
    amount_type: str = "purchase"
    ticket_type: str = "support_ticket"
    nps_type: str = "survey_nps"
    csat_type: str = "survey_csat"
    trend_types: tuple[str, ...] = ("login", "purchase", "support_ticket")
    channel_windows: tuple[int, ...] = (30, 90)
    text_window: int = 90
    pii_columns: tuple[str, ...] = DEFAULT_PII_COLUMNS

    def __post_init__(self) -> None:
        if tuple(sorted(self.windows)) != self.windows or len(set(self.windows)) != len(
            self.windows
        ):
            raise ValueError(f"feature windows must be distinct and ascending, got {self.windows}")
        for window in (*self.channel_windows, self.text_window, 30, 90):
            if window not in self.windows:
                raise ValueError(f"window {window}d is used but not in windows {self.windows}")
