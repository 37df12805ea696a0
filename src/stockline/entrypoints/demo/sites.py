"""The demo brand: its size, warehouses and stores."""

from __future__ import annotations

from dataclasses import dataclass

from stockline.domain.commands import (
    CreateLocation,
)
from stockline.domain.values import LocationType
from stockline.services.executor import Caller

SEED = 20_240_601
BRAND = "Northpeak"
CALLER = Caller(principal="demo", actor="demo-loader")
SALE_REF_PREFIX = "DEMO-"
BATCH = 1000  # commands per transaction: large enough to be fast, small enough to show progress



class DemoLoadError(Exception):
    """The demo data set could not be loaded (a refusal that only a bug would explain)."""


@dataclass(frozen=True, slots=True)
class DemoSize:
    """How much to load; the defaults are the full data set of ``stockline demo``."""

    stores_per_region: int = 6
    skus: int = 2000
    days: int = 21
    sales_per_store_day: int = 5
    # The best sellers, replenished automatically: they get reorder points at every location.
    replenished_skus: int = 100


# -- locations ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Site:
    code: str
    name: str
    region: str
    address: str
    latitude: float
    longitude: float
    utc_offset: int  # standard time: fixed offsets need no time zone database
    capacity: int


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# In the shape the API takes and answers: a day -> "HH:MM-HH:MM" or "closed".
WAREHOUSE_HOURS = {**dict.fromkeys(DAYS[:5], "05:00-23:00"), "sat": "06:00-18:00",
                   "sun": "closed"}
STORE_HOURS = {**dict.fromkeys(DAYS[:6], "10:00-21:00"), "sun": "11:00-18:00"}


def hours(days: dict[str, str], utc_offset: int) -> dict[str, str]:
    return {**days, "utc_offset": f"{utc_offset:+03d}:00"}
STORE_OPEN = {6: (11 * 60, 18 * 60)}  # by weekday (Sunday); other days below
DEFAULT_OPEN = (10 * 60, 21 * 60)

WAREHOUSES = (
    Site("DC-EAST", f"{BRAND} East Distribution Center", "Northeast",
         "1200 Logistics Pkwy, Carlisle, PA 17013", 40.2015, -77.1889, -5, 450_000),
    Site("DC-SOUTH", f"{BRAND} Southeast Distribution Center", "Southeast",
         "455 Commerce Blvd, McDonough, GA 30253", 33.4473, -84.1469, -5, 380_000),
    Site("DC-CENTRAL", f"{BRAND} Central Distribution Center", "Midwest",
         "3100 Freight Dr, Joliet, IL 60436", 41.5250, -88.0817, -6, 420_000),
    Site("DC-WEST", f"{BRAND} West Distribution Center", "West",
         "9800 Inland Empire Blvd, Ontario, CA 91761", 34.0633, -117.6509, -8, 400_000),
)

# region -> (code, stores as (city, state, street, zip, latitude, longitude, utc offset))
REGIONS: dict[str, tuple[str, tuple[tuple[str, str, str, str, float, float, int], ...]]] = {
    "Northeast": ("NE", (
        ("Boston", "MA", "350 Boylston St", "02116", 42.3519, -71.0710, -5),
        ("Brooklyn", "NY", "445 Atlantic Ave", "11217", 40.6861, -73.9807, -5),
        ("Philadelphia", "PA", "1625 Chestnut St", "19103", 39.9516, -75.1682, -5),
        ("Providence", "RI", "90 Westminster St", "02903", 41.8245, -71.4115, -5),
        ("Hartford", "CT", "200 Asylum St", "06103", 41.7670, -72.6790, -5),
        ("Burlington", "VT", "75 Church St", "05401", 44.4780, -73.2125, -5))),
    "Southeast": ("SE", (
        ("Atlanta", "GA", "3393 Peachtree Rd NE", "30326", 33.8470, -84.3620, -5),
        ("Charlotte", "NC", "4400 Sharon Rd", "28211", 35.1520, -80.8330, -5),
        ("Miami", "FL", "1111 Lincoln Rd", "33139", 25.7906, -80.1398, -5),
        ("Orlando", "FL", "4200 Conroy Rd", "32839", 28.4870, -81.4300, -5),
        ("Nashville", "TN", "2126 Abbott Martin Rd", "37215", 36.1050, -86.8170, -6),
        ("Raleigh", "NC", "4325 Glenwood Ave", "27612", 35.8390, -78.6800, -5))),
    "Midwest": ("MW", (
        ("Chicago", "IL", "600 N Michigan Ave", "60611", 41.8930, -87.6240, -6),
        ("Minneapolis", "MN", "801 Nicollet Mall", "55402", 44.9760, -93.2730, -6),
        ("Milwaukee", "WI", "275 W Wisconsin Ave", "53203", 43.0390, -87.9140, -6),
        ("Columbus", "OH", "1500 Polaris Pkwy", "43240", 40.1450, -82.9820, -5),
        ("Detroit", "MI", "1001 Woodward Ave", "48226", 42.3330, -83.0470, -5),
        ("St. Louis", "MO", "8 The Blvd", "63117", 38.6330, -90.3450, -6))),
    "Southwest": ("SW", (
        ("Phoenix", "AZ", "2502 E Camelback Rd", "85016", 33.5090, -112.0290, -7),
        ("Denver", "CO", "3000 E 1st Ave", "80206", 39.7180, -104.9530, -7),
        ("Austin", "TX", "11410 Century Oaks Ter", "78758", 30.4020, -97.7250, -6),
        ("Dallas", "TX", "8687 N Central Expy", "75225", 32.8680, -96.7730, -6),
        ("Albuquerque", "NM", "2240 Q St NE", "87110", 35.1030, -106.5680, -7),
        ("Salt Lake City", "UT", "50 S Main St", "84101", 40.7680, -111.8910, -7))),
    "West": ("WE", (
        ("Seattle", "WA", "400 Pine St", "98101", 47.6120, -122.3370, -8),
        ("Portland", "OR", "700 SW 5th Ave", "97204", 45.5190, -122.6780, -8),
        ("San Francisco", "CA", "865 Market St", "94103", 37.7840, -122.4070, -8),
        ("Los Angeles", "CA", "10250 Santa Monica Blvd", "90067", 34.0590, -118.4190, -8),
        ("San Diego", "CA", "7007 Friars Rd", "92108", 32.7680, -117.1670, -8),
        ("Sacramento", "CA", "1689 Arden Way", "95815", 38.6010, -121.4260, -8))),
}


def stores(size: DemoSize) -> list[Site]:
    """``stores_per_region`` stores in each of the five regions."""
    found = []
    for region, (region_code, sites) in REGIONS.items():
        for n, (city, state, street, zip_code, lat, lon, offset) in enumerate(
                sites[:size.stores_per_region], start=1):
            found.append(Site(f"ST-{region_code}-{n:02d}", f"{BRAND} {city}", region,
                              f"{street}, {city}, {state} {zip_code}", lat, lon, offset,
                              15_000 + 1_000 * (n % 4)))
    return found


def location_commands(size: DemoSize) -> list[CreateLocation]:
    warehouses = [CreateLocation(code=s.code, type=LocationType.WAREHOUSE, name=s.name,
                                 region=s.region, address=s.address, latitude=s.latitude,
                                 longitude=s.longitude, capacity=s.capacity,
                                 operating_hours=hours(WAREHOUSE_HOURS, s.utc_offset))
                  for s in WAREHOUSES]
    return warehouses + [
        CreateLocation(code=s.code, type=LocationType.RETAIL, name=s.name, region=s.region,
                       address=s.address, latitude=s.latitude, longitude=s.longitude,
                       capacity=s.capacity,
                       operating_hours=hours(STORE_HOURS, s.utc_offset))
        for s in stores(size)]
