"""``stockline demo``: a sports brand's warehouses, stores, catalog, stock and sales history.

The data set is generated from a fixed seed and loaded through the service layer, so the
ledger identity holds for it as for any other data. Loading again adds nothing that is
there: products and locations that exist are left alone, stock is received only into
levels that do not exist yet, reorder settings only go where none are set, and a sale is
recorded only if no sale carries its external ref (``DEMO-000123``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from itertools import accumulate
from typing import TypeVar

from rich.progress import Progress, TaskID

from stockline.bootstrap import Container
from stockline.domain.commands import (
    CreateLocation,
    CreateProduct,
    ReceiveStock,
    RecordSale,
    SaleLineRequest,
    SetReorderSettings,
)
from stockline.domain.errors import AlreadyExists, DomainError, InsufficientStock
from stockline.domain.model import Sale
from stockline.domain.values import Channel, LocationType, Money
from stockline.services import catalog, inventory, locations, sales
from stockline.services.executor import Caller, Handler

SEED = 20_240_601
BRAND = "Northpeak"
CALLER = Caller(principal="demo", actor="demo-loader")
SALE_REF_PREFIX = "DEMO-"
BATCH = 1000  # commands per transaction: large enough to be fast, small enough to show progress

C = TypeVar("C")
R = TypeVar("R")


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


WAREHOUSE_HOURS = {"mon-fri": "05:00-23:00", "sat": "06:00-18:00", "sun": "closed"}
STORE_HOURS = {"mon-sat": "10:00-21:00", "sun": "11:00-18:00"}
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
                                 operating_hours={**WAREHOUSE_HOURS, "utc_offset": s.utc_offset})
                  for s in WAREHOUSES]
    return warehouses + [
        CreateLocation(code=s.code, type=LocationType.RETAIL, name=s.name, region=s.region,
                       address=s.address, latitude=s.latitude, longitude=s.longitude,
                       capacity=s.capacity,
                       operating_hours={**STORE_HOURS, "utc_offset": s.utc_offset})
        for s in stores(size)]


# -- the catalog -------------------------------------------------------------------------

Fit = tuple[str, tuple[str, ...]]  # a gender and the sizes it comes in


@dataclass(frozen=True, slots=True)
class Spec:
    """A kind of product; each model made from it comes in colours x sizes."""

    item: str
    type: str
    sport: str
    fits: tuple[Fit, ...]
    price: tuple[int, int]  # whole dollars; prices end in .99
    materials: tuple[str, ...]
    versions: tuple[str, ...] = ("",)
    colours: int = 3
    price_step: int = 0  # dollars more per size step (weights)
    size_label: str = "{}"
    palette: tuple[tuple[str, str], ...] = ()  # instead of the category's


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    prefix: str
    share: float
    lines: tuple[str, ...]
    palette: tuple[tuple[str, str], ...]  # (colour, code)
    store_stock: tuple[int, int]  # opening units per SKU at a store
    multi_buy: bool  # shoppers sometimes take two
    specs: tuple[Spec, ...]


def _versions(*suffixes: str, upto: int = 6) -> tuple[str, ...]:
    return tuple(f" {n}{s}" for n in range(1, upto + 1) for s in suffixes)


def _uni(*sizes: str) -> tuple[Fit, ...]:
    return (("unisex", sizes),)


SHOES: tuple[Fit, ...] = (("men", tuple(f"{n / 2:g}" for n in range(14, 27))),
                          ("women", tuple(f"{n / 2:g}" for n in range(10, 23))))
TOPS: tuple[Fit, ...] = (("men", ("S", "M", "L", "XL", "XXL")),
                         ("women", ("XS", "S", "M", "L", "XL")))
FRAMES = ("XS", "S", "M", "L", "XL")
GEAR = (("Black", "BLK"), ("Graphite", "GPH"), ("Cobalt", "CBT"), ("Crimson", "CRM"),
        ("Volt", "VLT"), ("White", "WHT"), ("Teal", "TEL"))

CATALOG = (
    Category("footwear", "FW", 0.32, ("",), (
        ("Black/Volt", "BKVT"), ("White/Navy", "WHNV"), ("Graphite/Coral", "GRCO"),
        ("Cobalt/White", "COWH"), ("Olive/Sand", "OLSA"), ("Crimson/Black", "CRBK"),
        ("Slate/Teal", "SLTE"), ("Sand/Gum", "SAGU")), (2, 8), False, (
        Spec("Trail Runner", "running shoe", "trail running", SHOES, (120, 170),
             ("mesh", "GORE-TEX mesh"), _versions("", " GTX"), size_label="US {}"),
        Spec("Road Glide", "running shoe", "running", SHOES, (110, 160),
             ("engineered mesh", "knit"), _versions(""), size_label="US {}"),
        Spec("Tempo Racer", "racing shoe", "running", SHOES, (140, 230),
             ("knit", "carbon-plate knit"), _versions("", " Elite"), size_label="US {}"),
        Spec("Court Ace", "tennis shoe", "tennis", SHOES, (90, 140),
             ("synthetic leather", "mesh"), _versions("", " Clay"), size_label="US {}"),
        Spec("Pivot Hoops", "basketball shoe", "basketball", SHOES, (100, 180),
             ("synthetic", "knit"), _versions("", " Mid"), size_label="US {}"),
        Spec("Pitch Striker", "soccer cleat", "soccer", SHOES, (70, 250),
             ("synthetic", "kangaroo leather"), _versions(" FG", " TF"), size_label="US {}"),
        Spec("Summit Hiker", "hiking boot", "hiking", SHOES, (130, 200),
             ("suede", "GORE-TEX suede"), _versions(" Mid", " Mid GTX"), size_label="US {}"),
        Spec("Cross Trainer", "training shoe", "training", SHOES, (80, 130),
             ("mesh", "synthetic"), _versions(""), size_label="US {}"),
        Spec("Cloud Walker", "walking shoe", "walking", SHOES, (70, 120),
             ("knit", "leather"), _versions(""), size_label="US {}"),
    )),
    Category("apparel", "AP", 0.32, ("Aero", "Core", "Pace", "Storm", "Flex", "Elite",
                                     "Thermo", "Breeze"), (
        ("Black", "BLK"), ("White", "WHT"), ("Navy", "NVY"), ("Heather Grey", "HGR"),
        ("Olive", "OLV"), ("Crimson", "CRM"), ("Cobalt", "CBT"), ("Coral", "CRL"),
        ("Teal", "TEL")), (3, 12), False, (
        Spec("Tech Tee", "t-shirt", "running", TOPS, (28, 45),
             ("recycled polyester", "merino blend")),
        Spec("Running Shorts 5in", "shorts", "running", TOPS, (35, 55),
             ("polyester", "nylon stretch")),
        Spec("Training Hoodie", "hoodie", "training", TOPS, (60, 90),
             ("cotton blend", "fleece")),
        Spec("Thermal Tight", "tights", "running", TOPS, (55, 85), ("brushed nylon",)),
        Spec("Rain Shell Jacket", "jacket", "hiking", TOPS, (120, 220),
             ("3-layer nylon", "2.5-layer polyester")),
        Spec("Compression Top", "base layer", "training", TOPS, (35, 60), ("nylon elastane",)),
        Spec("Track Pants", "pants", "training", TOPS, (50, 80), ("polyester tricot",)),
        Spec("Sports Bra", "sports bra", "training", (("women", TOPS[1][1]),), (30, 60),
             ("nylon elastane",)),
        Spec("Performance Polo", "polo", "tennis", TOPS, (45, 70), ("pique polyester",)),
        Spec("Fleece Half-Zip", "midlayer", "hiking", TOPS, (65, 110), ("recycled fleece",)),
        Spec("Crew Socks 3-Pack", "socks", "running", _uni("S", "M", "L", "XL"), (16, 24),
             ("merino blend", "cotton blend")),
    )),
    Category("balls", "BL", 0.08, ("Pro", "Club", "Academy", "Match", "Street", "Elite",
                                   "Training", "Tour"), (
        ("White/Black", "WHBK"), ("White/Volt", "WHVT"), ("Orange", "ORNG"),
        ("Yellow/Blue", "YLBL"), ("Brown", "BRWN")), (4, 15), True, (
        Spec("Soccer Ball", "ball", "soccer", _uni("3", "4", "5"), (20, 150), ("TPU", "PU"),
             size_label="Size {}"),
        Spec("Basketball", "ball", "basketball", _uni("5", "6", "7"), (25, 90),
             ("composite leather", "rubber"), size_label="Size {}",
             palette=(("Orange", "ORNG"), ("Brown", "BRWN"), ("Black/Gold", "BKGD"))),
        Spec("Volleyball", "ball", "volleyball", _uni("5"), (25, 70), ("synthetic leather",),
             size_label="Size {}"),
        Spec("Football", "ball", "american football", _uni("junior", "youth", "official"),
             (20, 110), ("composite", "leather")),
        Spec("Tennis Balls 3-Pack", "balls", "tennis", _uni("regular duty", "extra duty"),
             (5, 8), ("felt",), colours=1, palette=(("Optic Yellow", "OYEL"),)),
        Spec("Pickleballs 6-Pack", "balls", "pickleball", _uni("indoor", "outdoor"), (12, 20),
             ("polymer",), colours=2,
             palette=(("Neon Green", "NGRN"), ("Optic Yellow", "OYEL"), ("Orange", "ORNG"))),
        Spec("Rugby Ball", "ball", "rugby", _uni("4", "5"), (20, 60), ("rubber",),
             size_label="Size {}"),
        Spec("Futsal Ball", "ball", "futsal", _uni("3", "4"), (25, 60), ("PU",),
             size_label="Size {}"),
        Spec("Handball", "ball", "handball", _uni("1", "2", "3"), (20, 50), ("PU",),
             size_label="Size {}"),
        Spec("Beach Volleyball", "ball", "volleyball", _uni("5"), (20, 45), ("PU",),
             colours=2, size_label="Size {}"),
        Spec("Water Polo Ball", "ball", "water polo", _uni("4", "5"), (30, 50), ("rubber",),
             colours=2, size_label="Size {}"),
    )),
    Category("rackets", "RK", 0.08, ("Velocity", "Control", "Spin", "Power", "Tour"), GEAR,
             (1, 5), False, (
        Spec("Tennis Racket", "racket", "tennis", _uni("4 1/8", "4 1/4", "4 3/8", "4 1/2"),
             (90, 260), ("graphite",), (" 98", " 100", " 105"), colours=2,
             size_label="Grip {}"),
        Spec("Badminton Racket", "racket", "badminton", _uni("3U", "4U"), (40, 180),
             ("carbon fibre",), _versions("", upto=4), colours=2),
        Spec("Squash Racket", "racket", "squash", _uni("standard"), (80, 200), ("graphite",),
             _versions("", upto=4), colours=2),
        Spec("Padel Racket", "racket", "padel", _uni("standard"), (90, 250),
             ("carbon", "fibreglass"), _versions("", upto=4), colours=2),
        Spec("Pickleball Paddle", "paddle", "pickleball", _uni("standard", "lightweight"),
             (50, 180), ("carbon fibre", "fibreglass"), _versions("", upto=4), colours=3),
        Spec("Junior Tennis Racket", "racket", "tennis",
             (("kids", ("21in", "23in", "25in", "26in")),), (30, 60), ("aluminium",),
             colours=2),
    )),
    Category("bikes", "BK", 0.06, ("Vector", "Summit", "Torrent", "Arrow", "Nomad"), (
        ("Matte Black", "MBK"), ("Forest Green", "FGN"), ("Storm Grey", "SGY"),
        ("Race Red", "RRD"), ("Glacier Blue", "GBL")), (1, 3), False, (
        Spec("Road Bike", "bike", "cycling", _uni(*FRAMES), (900, 3800),
             ("aluminium", "carbon"), (" Sport", " Comp", " Pro"), colours=2),
        Spec("Trail Bike 29", "bike", "mountain biking", _uni(*FRAMES[1:]), (1100, 4200),
             ("aluminium", "carbon"), (" Sport", " Comp", " Pro"), colours=2),
        Spec("Gravel Bike", "bike", "cycling", _uni(*FRAMES), (1000, 3200),
             ("aluminium", "carbon"), (" Sport", " Comp", " Pro"), colours=2),
        Spec("Hybrid Commuter", "bike", "cycling", _uni("S", "M", "L"), (500, 900),
             ("aluminium",), (" 1", " 2", " 3"), colours=2),
        Spec("Kids Bike 24", "bike", "cycling", (("kids", ("24in",)),), (300, 450),
             ("aluminium",), colours=3),
        Spec("E-Trail Bike", "e-bike", "mountain biking", _uni("S", "M", "L"), (3500, 6500),
             ("aluminium",), (" Comp", " Pro"), colours=2),
    )),
    Category("fitness", "FT", 0.14, ("Forge", "Core", "Zen", "Iron", "Pulse", "Titan", "Flow"),
             GEAR, (2, 10), True, (
        Spec("Hex Dumbbell", "dumbbell", "strength training",
             _uni(*(f"{w} lb" for w in range(5, 55, 5))), (10, 14),
             ("rubber-coated cast iron",), colours=1, price_step=6, palette=GEAR[:1]),
        Spec("Kettlebell", "kettlebell", "strength training",
             _uni(*(f"{w} kg" for w in range(8, 36, 4))), (25, 30), ("cast iron",),
             colours=1, price_step=10, palette=GEAR[:2]),
        Spec("Yoga Mat 5mm", "yoga mat", "yoga", _uni("standard", "long"), (35, 90),
             ("natural rubber", "TPE"), colours=4),
        Spec("Resistance Band", "resistance band", "training",
             _uni("light", "medium", "heavy", "x-heavy"), (12, 25), ("latex",), colours=1),
        Spec("Foam Roller", "foam roller", "recovery", _uni("12in", "18in", "36in"), (20, 45),
             ("EVA foam",), colours=2),
        Spec("Speed Jump Rope", "jump rope", "training", _uni("adjustable"), (12, 30),
             ("steel cable",), colours=3),
        Spec("Weighted Vest", "weighted vest", "training", _uni("10 lb", "20 lb", "30 lb"),
             (60, 80), ("nylon",), colours=1, price_step=20),
        Spec("Adjustable Bench", "bench", "strength training", _uni("standard"), (180, 350),
             ("steel",), colours=1),
        Spec("Medicine Ball", "medicine ball", "strength training",
             _uni(*(f"{w} lb" for w in range(4, 22, 2))), (20, 25), ("rubber",), colours=1,
             price_step=4),
        Spec("Slam Ball", "slam ball", "strength training",
             _uni(*(f"{w} lb" for w in range(10, 60, 10))), (25, 30), ("PVC shell",),
             colours=1, price_step=8),
        Spec("Ankle Weights Pair", "ankle weights", "training", _uni("2.5 lb", "5 lb", "10 lb"),
             (20, 30), ("neoprene",), colours=2, price_step=8),
        Spec("Training Gloves", "gloves", "strength training", _uni("S", "M", "L", "XL"),
             (20, 35), ("synthetic leather", "mesh"), colours=2),
        Spec("Lifting Belt", "lifting belt", "strength training", _uni("S", "M", "L", "XL"),
             (35, 80), ("nylon", "leather"), colours=2),
        Spec("Yoga Block 2-Pack", "yoga block", "yoga", _uni("standard"), (15, 25),
             ("EVA foam", "cork"), colours=4),
        Spec("Doorway Pull-Up Bar", "pull-up bar", "strength training", _uni("standard"),
             (30, 50), ("steel",), colours=1),
        Spec("Ab Wheel", "ab wheel", "training", _uni("standard"), (15, 30),
             ("steel", "rubber"), colours=2),
    )),
)


@dataclass(frozen=True, slots=True)
class DemoProduct:
    command: CreateProduct
    category: Category
    popularity: float  # relative chance of being picked by a shopper


def _code(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]", "", text).upper()


def _possessive(gender: str) -> str:
    return {"men": "Men's", "women": "Women's"}.get(gender, "")


def _models(rng: random.Random, cat: Category) -> Iterator[tuple[Spec, str, Fit]]:
    """Distinct (spec, model name, fit) in a seeded order, as many as the names allow."""
    seen: set[tuple[str, str]] = set()
    misses = 0
    while misses < 1000:
        spec = rng.choice(cat.specs)
        fit = rng.choice(spec.fits)
        name = " ".join(p for p in (rng.choice(cat.lines), spec.item) if p)
        name += rng.choice(spec.versions)
        if (name, fit[0]) in seen:
            misses += 1
            continue
        seen.add((name, fit[0]))
        yield spec, name, fit


def _variants(rng: random.Random, cat: Category, number: int, spec: Spec, model: str,
              fit: Fit) -> Iterator[DemoProduct]:
    """Every colour x size of one model, with one price and a material."""
    gender, sizes = fit
    palette = spec.palette or cat.palette
    wanted = rng.randint(max(1, spec.colours - 1), spec.colours)
    colours = rng.sample(palette, min(wanted, len(palette)))
    base = 5 * round(rng.randint(*spec.price) / 5)
    material = rng.choice(spec.materials)
    popularity = rng.lognormvariate(0, 1.3)
    title = " ".join(p for p in (model, _possessive(gender)) if p)
    middle = (len(sizes) - 1) / 2
    for colour, colour_code in colours:
        for i, size in enumerate(sizes):
            price = Money(Decimal(base + spec.price_step * i) - Decimal("0.01"), "USD")
            attributes = {"brand": BRAND, "model": model, "type": spec.type,
                          "sport": spec.sport, "gender": gender, "color": colour,
                          "size": size, "material": material}
            label = spec.size_label.format(size)
            command = CreateProduct(
                sku=f"{cat.prefix}{number:03d}-{colour_code}-{_code(size)}",
                name=f"{title}, {colour}, {label}", category=cat.name,
                attributes=attributes, price=price)
            centred = 1 - 0.6 * abs(i - middle) / middle if middle else 1.0
            yield DemoProduct(command, cat, popularity * centred)


def build_catalog(rng: random.Random, skus: int) -> list[DemoProduct]:
    """``skus`` products, shared among the categories as their ``share`` says."""
    quotas = [round(skus * cat.share) for cat in CATALOG[:-1]]
    quotas.append(skus - sum(quotas))
    products: list[DemoProduct] = []
    for cat, quota in zip(CATALOG, quotas, strict=True):
        made: list[DemoProduct] = []
        for number, (spec, model, fit) in enumerate(_models(rng, cat), start=1):
            if len(made) >= quota:
                break
            made.extend(_variants(rng, cat, number, spec, model, fit))
        if len(made) < quota:
            raise ValueError(f"the {cat.name} catalog has fewer than {quota} SKUs")
        products.extend(made[:quota])
    return products


# -- stock, reorder settings, sales history ----------------------------------------------

DAY_FACTOR = (0.8, 0.85, 0.9, 1.0, 1.25, 1.6, 1.2)  # trade by weekday, Monday first
ONLINE_SHARE = 0.15  # online orders shipped from a store
MARKDOWN_SHARE = 0.15  # lines sold at a markdown
BASKET_SIZES, BASKET_WEIGHTS = (1, 2, 3, 4), (55, 28, 12, 5)

Draft = tuple[str, datetime, Channel, tuple[SaleLineRequest, ...]]


@dataclass(frozen=True, slots=True)
class DemoPlan:
    products: list[CreateProduct]
    locations: list[CreateLocation]
    stock: dict[str, dict[str, int]]  # location -> SKU -> opening units
    settings: dict[str, dict[str, SetReorderSettings]]  # location -> SKU -> settings
    sales: list[RecordSale]  # oldest first
    opened_at: datetime  # when the opening stock arrived: before the first sale


def opening_stock(rng: random.Random, products: Sequence[DemoProduct],
                  warehouses: Sequence[str], shops: Sequence[str]) -> dict[str, dict[str, int]]:
    """Every location holds every SKU: a store a few units, a warehouse 12-30 times that."""
    stock = {code: {p.command.sku: rng.randint(*p.category.store_stock) * rng.randint(12, 30)
                    for p in products} for code in warehouses}
    stock.update({code: {p.command.sku: rng.randint(*p.category.store_stock) for p in products}
                  for code in shops})
    return stock


def reorder_settings(location_id: str, sku: str, opening: int, *,
                     store: bool) -> SetReorderSettings:
    """Reorder at a third of the opening stock (a quarter in a warehouse), back up to it."""
    point = opening // 3 if store else opening // 4
    return SetReorderSettings(location_id=location_id, sku=sku, reorder_point=point,
                              reorder_quantity=opening - point, safety_stock=point // 2)


def history_days(now: datetime, days: int) -> list[date]:
    """The last ``days`` days that are over everywhere in the US, late online orders included.

    A sale at local midnight on day D at UTC-8 is D + 32 h in UTC: it must not be in the future.
    """
    last = (now.astimezone(UTC) - timedelta(hours=32)).date()
    return [last - timedelta(days=n) for n in range(days - 1, -1, -1)]


def _pick(rng: random.Random, left: dict[str, int], products: Sequence[DemoProduct],
          cum: Sequence[float], taken: set[str]) -> DemoProduct | None:
    """A popular product that is still on the shelf, or None after a few tries."""
    for _ in range(5):
        product = rng.choices(products, cum_weights=cum)[0]
        if left[product.command.sku] > 0 and product.command.sku not in taken:
            return product
    return None


def _selling_price(rng: random.Random, product: DemoProduct) -> Money:
    price = product.command.price
    assert price is not None, "every demo product has a price"
    if rng.random() < MARKDOWN_SHARE:
        off = rng.choice((Decimal("0.8"), Decimal("0.7")))
        return Money((price.amount * off).quantize(Decimal("0.01")), price.currency)
    return price


def _basket(rng: random.Random, left: dict[str, int], products: Sequence[DemoProduct],
            cum: Sequence[float]) -> tuple[SaleLineRequest, ...]:
    """The lines of one sale, taken off ``left`` so that no plan sells more than there is."""
    lines: dict[str, SaleLineRequest] = {}
    for _ in range(rng.choices(BASKET_SIZES, weights=BASKET_WEIGHTS)[0]):
        product = _pick(rng, left, products, cum, set(lines))
        if product is None:
            continue
        sku = product.command.sku
        wanted = 2 if product.category.multi_buy and rng.random() < 0.3 else 1
        quantity = min(left[sku], wanted)
        left[sku] -= quantity
        lines[sku] = SaleLineRequest(sku=sku, quantity=quantity,
                                     unit_price=_selling_price(rng, product))
    return tuple(lines.values())


def _when(rng: random.Random, site: Site, day: date, channel: Channel) -> datetime:
    """In shop hours for the till, mostly in the evening for online orders (local time)."""
    if channel is Channel.ECOMMERCE:
        minute = rng.triangular(6 * 60, 24 * 60 - 1, 21 * 60)
    else:
        opens, closes = STORE_OPEN.get(day.weekday(), DEFAULT_OPEN)
        minute = rng.triangular(opens, closes - 1, opens + 0.7 * (closes - opens))
    midnight = datetime(day.year, day.month, day.day,
                        tzinfo=timezone(timedelta(hours=site.utc_offset)))
    return (midnight + timedelta(minutes=minute)).replace(microsecond=0).astimezone(UTC)


def _store_history(rng: random.Random, site: Site, left: dict[str, int], days: Sequence[date],
                   per_day: int, products: Sequence[DemoProduct],
                   cum: Sequence[float]) -> list[Draft]:
    busy = rng.uniform(0.7, 1.3)
    drafts: list[Draft] = []
    for day in days:
        count = round(per_day * DAY_FACTOR[day.weekday()] * busy * rng.uniform(0.8, 1.2))
        for _ in range(count):
            lines = _basket(rng, left, products, cum)
            channel = Channel.ECOMMERCE if rng.random() < ONLINE_SHARE else Channel.POS
            if lines:
                drafts.append((site.code, _when(rng, site, day, channel), channel, lines))
    return drafts


def sales_history(rng: random.Random, products: Sequence[DemoProduct], shops: Sequence[Site],
                  stock: dict[str, dict[str, int]], size: DemoSize,
                  now: datetime) -> list[RecordSale]:
    """Sales of the last ``size.days`` days at every store, oldest first.

    External refs number the sales in the order they are generated (store by store), so a
    ref names the same sale whatever the order of recording.
    """
    cum = list(accumulate(p.popularity for p in products))
    days = history_days(now, size.days)
    drafts: list[Draft] = []
    for site in shops:
        drafts.extend(_store_history(rng, site, dict(stock[site.code]), days,
                                     size.sales_per_store_day, products, cum))
    timed = [(when, RecordSale(location_id=location_id, lines=lines, channel=channel,
                               occurred_at=when, external_ref=f"{SALE_REF_PREFIX}{n:06d}"))
             for n, (location_id, when, channel, lines) in enumerate(drafts, start=1)]
    timed.sort(key=lambda pair: pair[0])
    return [sale for _, sale in timed]


def build_plan(size: DemoSize, now: datetime, seed: int = SEED) -> DemoPlan:
    """The whole data set: the same for the same size, seed and day."""
    rng = random.Random(seed)
    products = build_catalog(rng, size.skus)
    shops = stores(size)
    stock = opening_stock(rng, products, [w.code for w in WAREHOUSES], [s.code for s in shops])
    shop_codes = {s.code for s in shops}
    best = sorted(products, key=lambda p: (-p.popularity, p.command.sku))
    replenished = [p.command.sku for p in best[:size.replenished_skus]]
    settings = {location_id: {sku: reorder_settings(location_id, sku, levels[sku],
                                                    store=location_id in shop_codes)
                              for sku in sorted(replenished)}
                for location_id, levels in stock.items()}
    return DemoPlan(products=[p.command for p in products], locations=location_commands(size),
                    stock=stock, settings=settings,
                    sales=sales_history(rng, products, shops, stock, size, now),
                    opened_at=datetime.combine(history_days(now, size.days)[0] - timedelta(days=1),
                                               time(6), tzinfo=UTC))


# -- loading -----------------------------------------------------------------------------

@dataclass(slots=True)
class StepReport:
    created: int = 0
    present: int = 0  # there already
    refused: int = 0  # sales that found the demo stock sold by someone else


@dataclass(slots=True)
class DemoReport:
    products: StepReport = field(default_factory=StepReport)
    locations: StepReport = field(default_factory=StepReport)
    stock: StepReport = field(default_factory=StepReport)  # levels
    settings: StepReport = field(default_factory=StepReport)  # levels
    sales: StepReport = field(default_factory=StepReport)

    @property
    def added(self) -> int:
        return sum(step.created for step in (self.products, self.locations, self.stock,
                                             self.settings, self.sales))


FULL_SIZE = DemoSize()


async def load_demo(container: Container, *, size: DemoSize = FULL_SIZE,
                    progress: Progress | None = None, now: datetime | None = None) -> DemoReport:
    """Load whatever of the demo data set is missing, all of it through the service layer."""
    plan = build_plan(size, now or datetime.now(UTC))
    return await load_plan(container, plan, progress)


async def load_plan(container: Container, plan: DemoPlan,
                    progress: Progress | None = None) -> DemoReport:
    """Products, locations, stock and reorder points, then sales: each only where missing."""
    bar = progress if progress is not None else Progress(disable=True)
    report = DemoReport()
    report.products = await _create(container, catalog.create_product, plan.products, bar,
                                    "Products")
    report.locations = await _create(container, locations.create_location, plan.locations, bar,
                                     "Warehouses and stores")
    report.stock, report.settings = await _stock(container, plan, bar)
    report.sales = await _sales(container, plan.sales, bar)
    return report


async def _run_all(container: Container, handler: Handler[C, R], commands: Sequence[C],
                   bar: Progress, task: TaskID) -> list[R | DomainError]:
    outcomes: list[R | DomainError] = []
    for start in range(0, len(commands), BATCH):
        chunk = commands[start:start + BATCH]
        outcomes.extend(await container.executor.run_batch(handler, chunk, CALLER))
        bar.advance(task, len(chunk))
    return outcomes


async def _create(container: Container, handler: Handler[C, object], commands: Sequence[C],
                  bar: Progress, label: str) -> StepReport:
    task = bar.add_task(label, total=len(commands))
    step = StepReport()
    for outcome in await _run_all(container, handler, commands, bar, task):
        if isinstance(outcome, AlreadyExists):
            step.present += 1
        elif isinstance(outcome, DomainError):
            raise DemoLoadError(f"{label}: {outcome}")
        else:
            step.created += 1
    return step


async def _stock(container: Container, plan: DemoPlan,
                 bar: Progress) -> tuple[StepReport, StepReport]:
    """Receive stock into the levels that do not exist yet; set reorder points where unset."""
    receipts = bar.add_task("Opening stock", total=sum(map(len, plan.stock.values())))
    settings = bar.add_task("Reorder points", total=sum(map(len, plan.settings.values())))
    stocked, configured = StepReport(), StepReport()
    for location_id, quantities in plan.stock.items():
        points = await container.queries.reorder_points(location_id)
        missing = {sku: units for sku, units in quantities.items() if sku not in points}
        if missing:
            await _receive(container, location_id, missing, plan.opened_at)
        stocked.created += len(missing)
        stocked.present += len(quantities) - len(missing)
        bar.advance(receipts, len(quantities))
        wanted = plan.settings.get(location_id, {})
        todo = [command for sku, command in wanted.items()
                if sku in missing or (sku in points and points[sku] is None)]
        configured.present += len(wanted) - len(todo)
        bar.advance(settings, len(wanted) - len(todo))
        for outcome in await _run_all(container, inventory.set_reorder_settings, todo, bar,
                                      settings):
            if isinstance(outcome, DomainError):
                raise DemoLoadError(f"reorder settings at {location_id}: {outcome}")
            configured.created += 1
    return stocked, configured


async def _receive(container: Container, location_id: str, quantities: dict[str, int],
                   opened_at: datetime) -> None:
    receipt = ReceiveStock(location_id=location_id, quantities=quantities,
                           reference="DEMO-OPENING-STOCK", note="demo data set: opening stock",
                           occurred_at=opened_at)
    try:
        await container.executor.run(inventory.receive_stock, receipt, CALLER)
    except DomainError as error:
        raise DemoLoadError(f"opening stock at {location_id}: {error}") from error


async def _sales(container: Container, planned: Sequence[RecordSale],
                 bar: Progress) -> StepReport:
    """Record the sales whose external ref no sale carries yet, oldest first."""
    recorded = await container.queries.sale_refs(SALE_REF_PREFIX)
    todo = [sale for sale in planned if sale.external_ref not in recorded]
    step = StepReport(present=len(planned) - len(todo))
    task = bar.add_task("Sales history", total=len(todo))
    for outcome in await _run_all(container, sales.record_sale, todo, bar, task):
        if isinstance(outcome, Sale):
            step.created += 1
        elif isinstance(outcome, InsufficientStock):
            step.refused += 1
        else:
            raise DemoLoadError(f"sales: {outcome}")
    return step
