"""Products, warehouses and retail locations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
)

from stockline.domain.calendar import TIME_ZONE_MAX_LENGTH, TIME_ZONE_PATTERN
from stockline.domain.commands import (
    CreateLocation,
    CreateProduct,
    UpdateLocation,
    UpdateProduct,
)
from stockline.domain.model import Location, LocationStock, Product
from stockline.domain.values import LocationStatus, LocationType, ProductStatus
from stockline.entrypoints.http.schemas.common import (
    NO_NUL,
    Body,
    CodeStr,
    MoneyIn,
    MoneyOut,
    NeverNull,
    PartialBody,
    SentFields,
    Text100,
    Text200,
    Text500,
    partial_schema,
)

AttrKey = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
AttrText = Annotated[str, StringConstraints(strict=True, max_length=200, pattern=NO_NUL)]
# Within what JSON codecs carry, and bounded as the floats are: a bound of 2**63 - 1 is not
# a float, and generators and clients that read bounds as floats stepped past it.
AttrInt = Annotated[int, Field(strict=True, ge=-10**18, le=10**18)]
Version = Annotated[int, Field(strict=True, ge=0, le=10**18)]


def _not_an_int(value: object) -> object:
    if isinstance(value, int):  # an integer past 64 bits must not pass as a lossy float
        raise ValueError("integers must fit in 64 bits")
    return value


# Bounded because PostgreSQL's jsonb writes a number without an exponent: 1e20 comes back
# as the integer 100000000000000000000, past what the JSON codecs (and clients) carry.
FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-1e18, le=1e18),
                        BeforeValidator(_not_an_int)]
AttrValue = AttrText | AttrInt | FiniteFloat | StrictBool
Attributes = Annotated[dict[AttrKey, AttrValue], Field(max_length=50,
                                                        examples=[{"size": "42",
                                                                   "color": "black"}])]


class ProductCreate(Body):
    sku: CodeStr
    name: Text200
    category: Text100
    attributes: Attributes = Field(default_factory=dict)
    price: MoneyIn | None = None

    def to_command(self) -> CreateProduct:
        return CreateProduct(sku=self.sku, name=self.name, category=self.category,
                             attributes=self.attributes,
                             price=self.price.to_money() if self.price else None)


class ProductUpdate(SentFields):
    """Only the fields sent change; in ``attributes`` a null value removes that key."""

    name: Text200 | None = None
    category: Text100 | None = None
    attributes: Annotated[dict[AttrKey, AttrValue | None], Field(max_length=50)] | None = None
    price: MoneyIn | None = None
    status: ProductStatus | None = Field(
        default=None, description="`discontinued`: no more receipts, purchase orders or "
                                  "replenishment; it sells until its stock is gone")
    expected_version: Version | None = Field(
        default=None, description="Change only if the product is still at this version "
                                  "(409 `version_conflict` otherwise)")

    def to_command(self, sku: str) -> UpdateProduct:
        return UpdateProduct(sku=sku, name=self.name, category=self.category,
                             attributes=self.attributes,
                             price=self.price.to_money() if self.price else None,
                             status=self.status, expected_version=self.expected_version)


class ProductOut(BaseModel):
    sku: str
    name: str
    category: str
    attributes: dict[str, str | int | float | bool]
    price: MoneyOut | None
    status: ProductStatus
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Product) -> ProductOut:
        return cls(sku=p.sku, name=p.name, category=p.category, attributes=dict(p.attributes),
                   price=MoneyOut.of(p.price), status=p.status, version=p.version,
                   created_at=p.created_at, updated_at=p.updated_at)


Latitude = Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]
Capacity = Annotated[int, Field(strict=True, ge=0, le=10**12)]
Hours = Annotated[dict[Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,16}$")],
                       Annotated[str, StringConstraints(strict=True, max_length=64,
                                                        pattern=NO_NUL)]],
                  Field(max_length=16, examples=[{"mon": "07:00-19:00", "sun": "closed"}])]
TimeZone = Annotated[str, StringConstraints(strict=True, max_length=TIME_ZONE_MAX_LENGTH,
                                            pattern=TIME_ZONE_PATTERN),
                     Field(description="The IANA time zone whose calendar days the sales "
                                       "report uses for this location (none: UTC days); a "
                                       "name the time zone database does not know is a 422",
                           examples=["Europe/Paris"])]


class _LocationCreate(Body):
    code: CodeStr
    name: Text200
    address: Text500 | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    capacity: Capacity | None = None
    operating_hours: Hours | None = None
    time_zone: TimeZone | None = None

    def _command(self, type: LocationType, region: str | None = None) -> CreateLocation:
        return CreateLocation(code=self.code, type=type, name=self.name, region=region,
                              address=self.address, latitude=self.latitude,
                              longitude=self.longitude, capacity=self.capacity,
                              operating_hours=self.operating_hours,
                              time_zone=self.time_zone)


class WarehouseCreate(_LocationCreate):
    def to_command(self) -> CreateLocation:
        return self._command(LocationType.WAREHOUSE)


class RetailLocationCreate(_LocationCreate):
    region: Text100 | None = None

    def to_command(self) -> CreateLocation:
        return self._command(LocationType.RETAIL, self.region)


class _LocationUpdate(PartialBody):
    model_config = ConfigDict(json_schema_extra=partial_schema(PartialBody.NEVER_NULL))

    name: Annotated[Text200 | None, NeverNull] = None
    status: Annotated[LocationStatus | None, NeverNull] = Field(
        default=None, description="`closed`: no new sales, holds, receipts, purchase orders "
                                  "or inbound transfers (409 `location_closed`)")
    address: Text500 | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    capacity: Capacity | None = None
    operating_hours: Hours | None = None
    time_zone: TimeZone | None = None

    def _command(self, code: str, type: LocationType) -> UpdateLocation:
        return UpdateLocation(code=code, type=type, changes=self.changes())


class WarehouseUpdate(_LocationUpdate):
    def to_command(self, code: str) -> UpdateLocation:
        return self._command(code, LocationType.WAREHOUSE)


class RetailLocationUpdate(_LocationUpdate):
    region: Text100 | None = None

    def to_command(self, code: str) -> UpdateLocation:
        return self._command(code, LocationType.RETAIL)


class LocationOut(BaseModel):
    code: str
    type: LocationType
    name: str
    region: str | None
    address: str | None
    latitude: float | None
    longitude: float | None
    capacity: int | None
    operating_hours: dict[str, str] | None
    time_zone: str | None = Field(description="IANA time zone; null: UTC days")
    status: LocationStatus
    on_hand_units: int = Field(description="Units held: the sum of `on_hand` of its levels")
    capacity_used: float | None = Field(
        description="`on_hand_units / capacity` (1.0 is full; above 1, over capacity); null "
                    "without a capacity")
    created_at: datetime

    @classmethod
    def of(cls, loc: Location, on_hand_units: int) -> LocationOut:
        used = round(on_hand_units / loc.capacity, 4) if loc.capacity else None
        return cls(code=loc.code, type=loc.type, name=loc.name, region=loc.region,
                   address=loc.address, latitude=loc.latitude, longitude=loc.longitude,
                   capacity=loc.capacity,
                   operating_hours=dict(loc.operating_hours) if loc.operating_hours else None,
                   time_zone=loc.time_zone, status=loc.status,
                   on_hand_units=on_hand_units, capacity_used=used,
                   created_at=loc.created_at)

    @classmethod
    def of_new(cls, loc: Location) -> LocationOut:
        return cls.of(loc, 0)  # a new location holds nothing yet

    @classmethod
    def of_stock(cls, stock: LocationStock) -> LocationOut:
        return cls.of(stock.location, stock.on_hand_units)
