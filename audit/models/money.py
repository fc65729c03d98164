"""Exchange rates into the organisation's base currency, dated (cost of poor quality)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from audit.extensions import db
from audit.models.types import UTCDateTime, utcnow


class ExchangeRate(db.Model):
    """One unit of ``currency`` is worth ``rate`` units of the base currency from ``valid_from``
    until the next row of the same currency (kept by the administrator)."""

    __tablename__ = "exchange_rates"
    __table_args__ = (UniqueConstraint("currency", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))  #: ISO 4217 code
    #: The base currency the rate converts into (a change of base makes old rows inapplicable).
    base_currency: Mapped[str] = mapped_column(String(3))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    rate: Mapped[float] = mapped_column(Numeric(18, 8))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<ExchangeRate {self.currency}→{self.base_currency} {self.rate} from {self.valid_from}>"
