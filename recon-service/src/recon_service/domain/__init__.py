"""Domain of recon-service: statement sources, the normalised statement line, its limits.

Plain Python (no I/O imports)::

    Source         the seven statement sources, in their fixed processing order
    LineKind       payment | refund
    LineStatus     the channel's outcome of a line, in our words
    StatementLine  one normalised line of any statement format
    StatementLimits named limits every parser enforces
"""

from recon_service.domain.statement import (
    BUSINESS_TZ,
    LineKind,
    LineStatus,
    Source,
    StatementLimits,
    StatementLine,
)

__all__ = [
    "BUSINESS_TZ",
    "LineKind",
    "LineStatus",
    "Source",
    "StatementLimits",
    "StatementLine",
]
