"""The demo CPQ company's fixed data: product catalog, price book prices, consumption schedules, names.

Everything here is plain data; ``seed.py`` turns it into records. Prices are per ONE billing period
(``PricebookEntry.UnitPrice`` convention), in USD and EUR.
"""

from __future__ import annotations

from dataclasses import dataclass

MONTHS_PER_FREQUENCY: dict[str, int] = {"Monthly": 1, "Quarterly": 3, "Semiannual": 6, "Annual": 12}


@dataclass(frozen=True)
class Rate:
    lower: int
    upper: int | None  # None: the last tier is unbounded
    price: float
    method: str  # PerUnit | FlatFee


@dataclass(frozen=True)
class Schedule:
    type: str  # Slab | Range
    rates: tuple[Rate, ...]
    unit: str


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    family: str
    charge_type: str  # One-Time | Recurring | Usage
    prices: dict[str, float]  # currency -> price of one billing period (or one unit for one-time)
    frequency: str | None = None  # Monthly | Quarterly | Semiannual | Annual
    billing_type: str | None = None  # Advance | Arrears
    subscription_type: str | None = None  # Renewable | Evergreen
    pricing_method: str = "List"
    schedule: Schedule | None = None
    mdq: bool = False
    active: bool = True
    description: str = ""

    @property
    def recurring(self) -> bool:
        return self.charge_type != "One-Time"

    @property
    def default_term(self) -> int | None:
        """SBQQ__SubscriptionTerm__c on the product: the billing frequency in months (1 for evergreen)."""
        if not self.recurring or self.frequency is None:
            return None
        return 1 if self.subscription_type == "Evergreen" else MONTHS_PER_FREQUENCY[self.frequency]


def _one_time(code: str, name: str, usd: float, eur: float, description: str) -> Product:
    return Product(code, name, "Services", "One-Time", {"USD": usd, "EUR": eur}, description=description)


def _recurring(
    code: str,
    name: str,
    frequency: str,
    usd: float,
    eur: float,
    description: str,
    *,
    subscription_type: str = "Renewable",
    pricing_method: str = "List",
    mdq: bool = False,
    active: bool = True,
) -> Product:
    return Product(
        code,
        name,
        "Software",
        "Recurring",
        {"USD": usd, "EUR": eur},
        frequency=frequency,
        billing_type="Advance",
        subscription_type=subscription_type,
        pricing_method=pricing_method,
        mdq=mdq,
        active=active,
        description=description,
    )


def _usage(code: str, name: str, usd: float, eur: float, description: str, schedule: Schedule | None = None) -> Product:
    return Product(
        code,
        name,
        "Usage",
        "Usage",
        {"USD": usd, "EUR": eur},
        frequency="Monthly",
        billing_type="Arrears",
        subscription_type="Renewable",
        schedule=schedule,
        description=description,
    )


STORAGE_SCHEDULE = Schedule(
    "Slab",
    (
        Rate(0, 1000, 0.10, "PerUnit"),
        Rate(1000, 10000, 0.08, "PerUnit"),
        Rate(10000, None, 0.05, "PerUnit"),
    ),
    "GB",
)
MESSAGES_SCHEDULE = Schedule(
    "Range",
    (
        Rate(0, 1000, 25.00, "FlatFee"),
        Rate(1000, 50000, 0.02, "PerUnit"),
        Rate(50000, None, 0.015, "PerUnit"),
    ),
    "Message",
)

CATALOG: tuple[Product, ...] = (
    _one_time("IMPL", "Implementation Services", 5000.00, 4600.00, "Fixed-fee implementation project."),
    _one_time("TRAIN", "Training Workshop", 1500.00, 1380.00, "One-day on-site training workshop."),
    _recurring("PLAT-M", "Platform Subscription", "Monthly", 49.00, 45.00, "Core platform, per user, billed monthly."),
    _recurring("ANLY-Q", "Analytics Add-on", "Quarterly", 120.00, 110.00, "Dashboards and exports, billed quarterly."),
    _recurring("SUPP-S", "Premium Support", "Semiannual", 600.00, 552.00, "24/7 support, billed every six months."),
    _recurring("ENT-A", "Enterprise License", "Annual", 1200.00, 1104.00, "Enterprise edition, billed annually."),
    _recurring("SEAT-A", "User Seats", "Annual", 360.00, 330.00, "Named user seats, billed annually."),
    _recurring(
        "BLOCK-A",
        "Storage Block 1 TB",
        "Annual",
        2500.00,
        2300.00,
        "Block-priced storage: one price for the block, billed annually.",
        pricing_method="Block",
    ),
    _recurring(
        "SEAT-MDQ",
        "Platform Seats (multi-year)",
        "Annual",
        960.00,
        880.00,
        "Seats sold with yearly ramps (MDQ segments).",
        mdq=True,
    ),
    _recurring(
        "HOST-E",
        "Managed Hosting",
        "Monthly",
        99.00,
        91.00,
        "Evergreen hosting: renews monthly until cancelled.",
        subscription_type="Evergreen",
    ),
    _usage("API-U", "API Calls (per 1,000)", 0.50, 0.46, "Metered API usage, billed monthly in arrears."),
    _usage("STOR-T", "Data Storage", 0.00, 0.00, "Tiered storage usage (slab rates).", STORAGE_SCHEDULE),
    _usage(
        "MSG-T",
        "Messaging",
        0.00,
        0.00,
        "Tiered messages (range rates with a flat first tier).",
        MESSAGES_SCHEDULE,
    ),
    _recurring("LEGACY-M", "Legacy Reporting", "Monthly", 19.00, 17.00, "Retired reporting module.", active=False),
)
BY_CODE: dict[str, Product] = {p.code: p for p in CATALOG}

#: Products a plain termed order draws from (recurring, term-based) and the usage products.
TERMED = ("PLAT-M", "ANLY-Q", "SUPP-S", "ENT-A", "SEAT-A", "BLOCK-A")
ANNUAL = ("ENT-A", "SEAT-A", "BLOCK-A")
USAGE = ("API-U", "STOR-T", "MSG-T")
ONE_TIME = ("IMPL", "TRAIN")

#: The custom price book sells at a 5% lower list price than the standard one.
CUSTOM_PRICE_BOOK_FACTOR = 0.95

#: Every fifth account is billed in EUR (its orders use the EUR price book entries).
EUR_ACCOUNT_EVERY = 5

COMPANY_WORDS = (
    "Acme", "Apex", "Blue", "Bright", "Cedar", "Cobalt", "Crest", "Delta", "Ember", "Falcon", "Granite",
    "Harbor", "Iron", "Juniper", "Keystone", "Lumen", "Maple", "Nimbus", "Nova", "Orbit", "Pioneer", "Quartz",
    "Redwood", "Summit", "Terra", "Union", "Vertex", "Willow", "Zenith", "Atlas",
)  # fmt: skip
COMPANY_NOUNS = (
    "Analytics", "Systems", "Logistics", "Foods", "Health", "Robotics", "Media", "Energy", "Labs", "Capital",
    "Freight", "Networks", "Software", "Retail", "Design", "Foundry", "Bio", "Motors", "Studios", "Works",
)  # fmt: skip
COMPANY_SUFFIXES = ("Inc.", "LLC", "Corp.", "Group", "GmbH", "SAS", "Ltd.", "Co.")
FIRST_NAMES = (
    "Ava", "Liam", "Maya", "Noah", "Emma", "Lucas", "Chloe", "Ethan", "Sofia", "Mateo", "Lea", "Hugo", "Nina",
    "Jonas", "Clara", "Felix", "Ines", "Oscar", "Zoe", "Adam",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Garcia", "Chen", "Muller", "Dubois", "Rossi", "Patel", "Kim", "Novak", "Silva", "Jensen",
    "Costa", "Weber", "Martin", "Okafor", "Larsen", "Moreau", "Tanaka", "Fischer", "Lopez",
)  # fmt: skip
TITLES = ("CFO", "Controller", "VP Finance", "Billing Manager", "CTO", "IT Director", "Procurement Lead")
INDUSTRIES = ("Technology", "Manufacturing", "Retail", "Healthcare", "Finance", "Media", "Education")

# (street names, city, state, postal code prefix, country, phone prefix)
US_PLACES = (
    ("Market St", "San Francisco", "CA", "941", "United States", "+1 415"),
    ("Broadway", "New York", "NY", "100", "United States", "+1 212"),
    ("Congress Ave", "Austin", "TX", "787", "United States", "+1 512"),
    ("Pike St", "Seattle", "WA", "981", "United States", "+1 206"),
    ("Michigan Ave", "Chicago", "IL", "606", "United States", "+1 312"),
    ("Peachtree St", "Atlanta", "GA", "303", "United States", "+1 404"),
    ("Boylston St", "Boston", "MA", "021", "United States", "+1 617"),
)
EU_PLACES = (
    ("Rue de Rivoli", "Paris", "", "750", "France", "+33 1"),
    ("Friedrichstrasse", "Berlin", "", "101", "Germany", "+49 30"),
    ("Calle de Alcala", "Madrid", "", "280", "Spain", "+34 91"),
    ("Via Torino", "Milan", "", "201", "Italy", "+39 02"),
    ("Keizersgracht", "Amsterdam", "", "101", "Netherlands", "+31 20"),
)
SALES_REPS = (
    ("Dana", "Whitfield", "Account Executive"),
    ("Marco", "Bianchi", "Account Executive"),
    ("Priya", "Raman", "Senior Account Executive"),
    ("Tom", "Okoye", "Sales Director"),
)
PAYMENT_TERMS = ("Net 30", "Net 30", "Net 30", "Net 15", "Net 45", "Net 60", "Due on Receipt")

#: Coupons: (code, display name, percent off, amount off, duration, months, max redemptions).
COUPONS: tuple[tuple[str, str, float | None, float | None, str, int | None, int | None], ...] = (
    ("WELCOME10", "Welcome 10% off", 10.0, None, "once", None, None),
    ("LAUNCH15", "Launch 15% for 3 months", 15.0, None, "repeating", 3, 500),
    ("PARTNER5", "Partner 5% forever", 5.0, None, "forever", None, None),
    ("SAVE100", "100 off the first invoice", None, 100.0, "once", None, 1000),
    ("LOYAL50", "50 off for 6 months", None, 50.0, "repeating", 6, None),
    ("CARE20", "20 off forever", None, 20.0, "forever", None, 200),
)
