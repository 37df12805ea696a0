"""The demo catalog: models in sizes and colours, one product per variant."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from stockline.domain.commands import (
    CreateProduct,
)
from stockline.domain.values import Money
from stockline.entrypoints.demo.sites import BRAND

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
