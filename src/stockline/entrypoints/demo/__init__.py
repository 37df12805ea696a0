"""``stockline demo``: a sports brand's warehouses, stores, catalog, stock and sales history.

The data set is generated from a fixed seed and loaded through the service layer, so the
ledger identity holds for it as for any other data. Loading again adds nothing that is
there: products and locations that exist are left alone, stock is received only into
levels that do not exist yet, reorder settings only go where none are set, and a sale is
recorded only if no sale carries its external ref (``DEMO-000123``). Then some sales come
back (returns), and store staff report discrepancies whose count tasks are counted, or
left open (``aftercare``): each only if it is not there yet.
"""

from stockline.entrypoints.demo.catalog import CATALOG, DemoProduct, build_catalog
from stockline.entrypoints.demo.load import (
    FULL_SIZE,
    DemoReport,
    StepReport,
    load_demo,
    load_plan,
)
from stockline.entrypoints.demo.plan import DemoPlan, build_plan, history_days
from stockline.entrypoints.demo.sites import (
    DEFAULT_OPEN,
    SALE_REF_PREFIX,
    SEED,
    STORE_OPEN,
    WAREHOUSES,
    DemoLoadError,
    DemoSize,
    Site,
    location_commands,
    stores,
)

__all__ = [
    "CATALOG", "DEFAULT_OPEN", "FULL_SIZE", "SALE_REF_PREFIX", "SEED", "STORE_OPEN",
    "WAREHOUSES", "DemoLoadError", "DemoPlan", "DemoProduct", "DemoReport", "DemoSize",
    "Site", "StepReport", "build_catalog", "build_plan", "history_days", "load_demo",
    "load_plan", "location_commands", "stores",
]
