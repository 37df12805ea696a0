"""Customers: what a sale may say of its customer, and what an erasure did."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from stockline.domain.customers import (
    CONTACT_MAX_LENGTH,
    REF_PATTERN,
    Customer,
    CustomerDetails,
)
from stockline.entrypoints.http.schemas.common import NO_NUL, Body

CustomerRef = Annotated[str, StringConstraints(strict=True, pattern=REF_PATTERN),
                        Field(examples=["LOYALTY-00042"])]


class CustomerIn(Body):
    ref: CustomerRef = Field(description="The retailer's own reference for the customer "
                                         "(loyalty card, shop account, e-mail address)")
    contact: Annotated[str, StringConstraints(strict=True, min_length=1,
                                              max_length=CONTACT_MAX_LENGTH,
                                              pattern=NO_NUL)] | None = Field(
        default=None, description="How to reach them (kept with the customer, not the sale). "
                                  "Taken for a new customer; a later sale's contact "
                                  "replaces it only when its caller has customers:write")

    def to_details(self) -> CustomerDetails:
        return CustomerDetails(ref=self.ref, contact=self.contact)


class CustomerOut(BaseModel):
    ref: str
    contact: str | None
    sales: int = Field(description="Sales that carry this reference")
    last_sale_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Customer) -> CustomerOut:
        return cls(ref=c.ref, contact=c.contact, sales=c.sales, last_sale_at=c.last_sale_at,
                   created_at=c.created_at, updated_at=c.updated_at)
