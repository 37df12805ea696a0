"""Products, warehouses and retail locations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from stockline.domain.commands import CreateLocation, CreateProduct, UpdateProduct
from stockline.domain.model import Location, Product
from stockline.domain.values import LocationType
from stockline.entrypoints.http.schemas.common import (
    NO_NUL,
    Body,
    CodeStr,
    MoneyIn,
    MoneyOut,
    Text100,
    Text200,
    Text500,
)

AttrKey = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
AttrText = Annotated[str, StringConstraints(strict=True, max_length=200, pattern=NO_NUL)]
# Within what JSON codecs carry, and bounded as the floats are: a bound of 2**63 - 1 is not
# a float, and generators and clients that read bounds as floats stepped past it.
AttrInt = Annotated[int, Field(strict=True, ge=-10**18, le=10**18)]


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


def _sent_fields_only(schema: dict[str, Any]) -> None:
    """None stands for "not sent" and is refused when sent: the schema shows no null, no
    default, and at least one field."""
    schema["minProperties"] = 1
    for field in schema["properties"].values():
        field.pop("default", None)
        kinds = [k for k in field.pop("anyOf", []) if k.get("type") != "null"]
        if len(kinds) == 1:
            field.update(kinds[0])
        elif kinds:
            field["anyOf"] = kinds


class ProductUpdate(Body):
    """Only the fields sent change; in ``attributes`` a null value removes that key."""

    model_config = ConfigDict(json_schema_extra=_sent_fields_only)

    name: Text200 | None = None
    category: Text100 | None = None
    attributes: Annotated[dict[AttrKey, AttrValue | None], Field(max_length=50)] | None = None
    price: MoneyIn | None = None

    @field_validator("name", "category", "attributes", "price")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # None stands for "not sent": an explicit null would be silently ignored.
        if value is None:
            raise ValueError("may be left out, but not null")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> ProductUpdate:
        if not self.model_fields_set:
            raise ValueError("send at least one of name, category, attributes, price")
        return self

    def to_command(self, sku: str) -> UpdateProduct:
        return UpdateProduct(sku=sku, name=self.name, category=self.category,
                             attributes=self.attributes,
                             price=self.price.to_money() if self.price else None)


class ProductOut(BaseModel):
    sku: str
    name: str
    category: str
    attributes: dict[str, str | int | float | bool]
    price: MoneyOut | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Product) -> ProductOut:
        return cls(sku=p.sku, name=p.name, category=p.category, attributes=dict(p.attributes),
                   price=MoneyOut.of(p.price), version=p.version, created_at=p.created_at,
                   updated_at=p.updated_at)


Latitude = Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]
Capacity = Annotated[int, Field(strict=True, ge=0, le=10**12)]
Hours = Annotated[dict[Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,16}$")],
                       Annotated[str, StringConstraints(strict=True, max_length=64,
                                                        pattern=NO_NUL)]],
                  Field(max_length=16, examples=[{"mon": "07:00-19:00", "sun": "closed"}])]


class _LocationCreate(Body):
    code: CodeStr
    name: Text200
    address: Text500 | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    capacity: Capacity | None = None
    operating_hours: Hours | None = None

    def _command(self, type: LocationType, region: str | None = None) -> CreateLocation:
        return CreateLocation(code=self.code, type=type, name=self.name, region=region,
                              address=self.address, latitude=self.latitude,
                              longitude=self.longitude, capacity=self.capacity,
                              operating_hours=self.operating_hours)


class WarehouseCreate(_LocationCreate):
    def to_command(self) -> CreateLocation:
        return self._command(LocationType.WAREHOUSE)


class RetailLocationCreate(_LocationCreate):
    region: Text100 | None = None

    def to_command(self) -> CreateLocation:
        return self._command(LocationType.RETAIL, self.region)


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
    created_at: datetime

    @classmethod
    def of(cls, loc: Location) -> LocationOut:
        return cls(code=loc.code, type=loc.type, name=loc.name, region=loc.region,
                   address=loc.address, latitude=loc.latitude, longitude=loc.longitude,
                   capacity=loc.capacity,
                   operating_hours=dict(loc.operating_hours) if loc.operating_hours else None,
                   created_at=loc.created_at)
