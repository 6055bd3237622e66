"""Names, units, conversions, phrases and the scenes a story can be about."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

# Templates use {slots} filled by str.format and [verbs] written in the third person singular,
# turned into the plural form when the subject is plural ("Mia and Leo [picks]").

SINGULAR = {
    "hours": "hour",
    "minutes": "minute",
    "days": "day",
    "weeks": "week",
    "dollars": "dollar",
    "cents": "cent",
    "feet": "foot",
    "inches": "inch",
    "kilograms": "kilogram",
    "grams": "gram",
}

# unit -> (unit it converts to, operator, factor); "dozen" converts to the scene's item noun.
CONVERSIONS: dict[str, tuple[str, str, int]] = {
    "hours": ("minutes", "*", 60),
    "minutes": ("hours", "/", 60),
    "days": ("hours", "*", 24),
    "weeks": ("days", "*", 7),
    "dollars": ("cents", "*", 100),
    "feet": ("inches", "*", 12),
    "kilograms": ("grams", "*", 1000),
    "dozen": ("", "*", 12),
}

FEMALE = (
    "Mia", "Ava", "Zoe", "Lily", "Emma", "Nora", "Ruby", "Chloe", "Priya", "Aisha",
    "Sofia", "Hana", "Grace", "Leila", "Maya", "Elena", "Fatima", "Yuki", "Olivia", "Isla",
)  # fmt: skip
MALE = (
    "Leo", "Sam", "Omar", "Ben", "Jack", "Noah", "Liam", "Ravi", "Diego", "Kenji",
    "Mateo", "Ethan", "Hugo", "Amir", "Felix", "Tom", "Luca", "Owen", "Kofi", "Ivan",
)  # fmt: skip
PEOPLE = [(name, "she", "her") for name in FEMALE] + [(name, "he", "his") for name in MALE]

DAY_PARTS = ("in the morning", "in the afternoon", "in the evening")
WEEKDAYS = ("on Monday", "on Tuesday", "on Wednesday")
WEEKEND = ("on Friday", "on Saturday", "on Sunday")
TREES = ("from the first tree", "from the second tree", "from the third tree")
GAMES = ("in the first game", "in the second game", "in the third game")
HALVES = ("in the first half", "in the second half")
LATER = ("later that day", "the next day", "on the weekend", "after lunch", "before dinner")
OTHERS = ("{their} aunt", "a neighbor", "{their} teacher", "a friend", "{their} grandfather")
RELATIONS = ("friend", "cousin", "neighbor", "classmate", "teammate")
SHARERS = (("friends", "friend"), ("cousins", "cousin"), ("classmates", "classmate"))
SHARERS += (("neighbors", "neighbor"), ("teammates", "teammate"))
PERIODS = {  # working unit -> (phrase, plural noun) pairs used to repeat a quantity
    "count": (("every day", "days"), ("every week", "weeks"), ("every month", "months")),
    "money": (("every day", "days"), ("every week", "weeks"), ("every month", "months")),
    "hours": (("every day", "days"), ("every week", "weeks")),
    "minutes": (("every day", "days"), ("every week", "weeks")),
    "days": (("every month", "months"), ("every year", "years")),
    "weeks": (("every year", "years"),),
    "length": (("every week", "weeks"), ("every month", "months")),
    "mass": (("every week", "weeks"), ("every month", "months")),
}
FRAMES = {
    "farm": ("It is harvest time on the farm.", "The family farm is busy this week."),
    "baking": ("The school is holding a bake sale.", "The bakery is getting ready for a party."),
    "school": ("The school year has just started.", "The class is preparing for a test."),
    "crafts": ("The art club meets after school.", "There is a craft fair this weekend."),
    "shopping": ("School starts next week.", "The store is having a sale."),
    "travel": ("Summer vacation has begun.", "The family is planning a trip."),
    "sports": ("The basketball season is underway.", "The team has a busy week."),
    "garden": ("Spring has arrived in the garden.", "The community garden opens this week."),
    "work": ("Everyone is saving for the summer.", "The cafe is busy this month."),
    "savings": ("Everyone wants to buy a new bike.", "The family is saving for a holiday."),
    "music": ("The school concert is coming up.", "The music recital is next month."),
    "kitchen": ("The kitchen is stocked for the holidays.", "The family is cooking for a feast."),
}


@dataclass(frozen=True)
class Rate:
    """How a quantity becomes one of another kind: count x price -> money, hours x rate -> pay."""

    question: tuple[str, ...]
    step: tuple[str, ...]
    target: Scene
    from_units: tuple[str, ...] = ()  # empty: any unit


@dataclass(frozen=True)
class Scene:
    """What a quantity is about: its kind, the action verb and the words for it."""

    domain: str
    kind: str  # count | money | time | length | mass
    verb: str  # third person singular phrase: "picks", "practices piano"
    noun: str = ""  # count: plural item; length/mass: material
    one: str = ""  # count: singular item
    units: tuple[str, ...] = ()  # units a given amount may be written in
    places: tuple[str, ...] = ("",)
    parts: tuple[tuple[str, ...], ...] = (DAY_PARTS, WEEKDAYS, WEEKEND)
    containers: tuple[tuple[str, str], ...] = ()
    losses: tuple[str, ...] = ()
    rate: Rate | None = None
    dozens: bool = False
    shareable: bool = True  # can the items be handed out? (apples yes, pages read no)
    spending: bool = False
    things: tuple[str, ...] = ()


_THINGS = ("a book", "a kite", "lunch", "a new cap", "a board game", "a gift for {their} mom")
EARN = Scene(
    "work",
    "money",
    "earns",
    units=("dollars",),
    places=(" mowing lawns", " at the car wash", " babysitting", " walking dogs", ""),
    things=_THINGS,
)
SAVE = Scene(
    "savings",
    "money",
    "saves",
    units=("dollars",),
    places=(" in {their} piggy bank", " for a new bike", " for a trip", ""),
    things=_THINGS,
)
SPEND = Scene(
    "shopping",
    "money",
    "spends",
    units=("dollars",),
    places=(" at the bookstore", " at the mall", " on groceries", " at the fair", ""),
    containers=(("notebooks", "notebook"), ("sandwiches", "sandwich"), ("tickets", "ticket")),
    spending=True,
    things=("a pen", "a snack", "a poster", "a bottle of water", "a bookmark"),
)
PAY = replace(SPEND, domain="travel", verb="pays", places=("",), containers=())
PAGES = Scene(
    "school",
    "count",
    "reads",
    "pages",
    "page",
    ("pages",),
    parts=(WEEKDAYS, WEEKEND),
    shareable=False,
)
MILES = Scene(
    "travel",
    "count",
    "rides",
    "miles",
    "mile",
    ("miles",),
    parts=(WEEKDAYS, DAY_PARTS),
    shareable=False,
)

GIVE = "{A} [gives] {d} of them to {other}."
EAT = "{A} [eats] {d} of them."
LOSE = "{A} [loses] {d} of them on the way home."
SPOIL = "{d} of them turn out to be rotten, so {A} [throws] them away."
SELL = Rate(
    ("{A} [sells] each {one} for ${p}.", "{A} [sells] the {noun} for ${p} each."),
    ("{A} [earns] {x}.", "So {A} [earns] {x}.", "Selling them, {A} [earns] {x}."),
    EARN,
)
BUY = Rate(
    ("Each {one} costs ${p}.", "The {noun} cost ${p} each."),
    ("{A} [spends] {x}.", "So {A} [spends] {x}.", "In total, {A} [spends] {x}."),
    SPEND,
)
PRICE_PER_UNIT = Rate(
    ("Each {unit1} of {noun} costs ${p}.", "The {noun} costs ${p} per {unit1}."),
    ("{A} [spends] {x}.", "So {A} [pays] {x}."),
    SPEND,
)


def _count(domain: str, verb: str, noun: str, one: str, **extra: Any) -> Scene:
    return Scene(domain, "count", verb, noun, one, units=(noun,), **extra)


SCENES: tuple[Scene, ...] = (
    _count(
        "farm",
        "picks",
        "apples",
        "apple",
        places=(" at the orchard", ""),
        parts=(TREES, DAY_PARTS, WEEKEND),
        containers=(("baskets", "basket"),),
        losses=(GIVE, SPOIL),
        rate=SELL,
    ),
    _count(
        "farm",
        "collects",
        "eggs",
        "egg",
        places=(" from the hens", ""),
        containers=(("baskets", "basket"),),
        losses=("{A} [drops] {d} of them and they break.", GIVE),
        rate=SELL,
        dozens=True,
    ),
    _count(
        "farm",
        "harvests",
        "pumpkins",
        "pumpkin",
        containers=(("wagons", "wagon"),),
        losses=(GIVE, SPOIL),
        rate=SELL,
    ),
    _count(
        "farm",
        "picks",
        "strawberries",
        "strawberry",
        containers=(("buckets", "bucket"),),
        losses=(EAT, GIVE),
        rate=SELL,
    ),
    _count(
        "baking",
        "bakes",
        "cookies",
        "cookie",
        containers=(("trays", "tray"),),
        losses=(EAT, GIVE),
        rate=SELL,
        dozens=True,
    ),
    _count(
        "baking",
        "bakes",
        "muffins",
        "muffin",
        containers=(("batches", "batch"),),
        losses=(EAT, GIVE),
        rate=SELL,
        dozens=True,
    ),
    _count(
        "baking",
        "frosts",
        "cupcakes",
        "cupcake",
        containers=(("boxes", "box"),),
        losses=(EAT, GIVE),
        rate=SELL,
    ),
    replace(
        PAGES,
        places=(" of a novel", " for a book report", ""),
        containers=(("chapters", "chapter"),),
    ),
    _count(
        "school",
        "solves",
        "math problems",
        "math problem",
        parts=(WEEKDAYS, DAY_PARTS),
        containers=(("worksheets", "worksheet"),),
        shareable=False,
    ),
    _count(
        "school",
        "collects",
        "stickers",
        "sticker",
        containers=(("sheets", "sheet"),),
        losses=(GIVE, LOSE),
    ),
    _count(
        "crafts",
        "folds",
        "paper cranes",
        "paper crane",
        containers=(("boxes", "box"),),
        losses=(GIVE,),
        rate=SELL,
    ),
    _count(
        "crafts",
        "makes",
        "bracelets",
        "bracelet",
        parts=(WEEKDAYS, WEEKEND),
        losses=(GIVE, LOSE),
        rate=SELL,
    ),
    _count(
        "shopping",
        "buys",
        "notebooks",
        "notebook",
        containers=(("packs", "pack"),),
        losses=(GIVE, LOSE),
        rate=BUY,
    ),
    _count(
        "shopping",
        "buys",
        "pencils",
        "pencil",
        containers=(("boxes", "box"),),
        losses=(GIVE, LOSE),
        rate=BUY,
        dozens=True,
    ),
    _count("sports", "scores", "points", "point", parts=(GAMES, HALVES), shareable=False),
    _count(
        "travel", "hikes", "miles", "mile", parts=(WEEKDAYS, WEEKEND, DAY_PARTS), shareable=False
    ),
    _count(
        "garden",
        "plants",
        "tulips",
        "tulip",
        containers=(("rows", "row"),),
        losses=("{d} of them do not survive the frost, and {A} [pulls] them out.",),
        rate=SELL,
    ),
    _count(
        "garden",
        "picks",
        "tomatoes",
        "tomato",
        containers=(("baskets", "basket"),),
        losses=(SPOIL, GIVE),
        rate=SELL,
    ),
    EARN,
    SAVE,
    SPEND,
    Scene(
        "music",
        "time",
        "practices piano",
        units=("hours", "minutes"),
        places=(" on Saturday", " this week", ""),
    ),
    Scene(
        "school",
        "time",
        "studies for the exam",
        units=("hours", "minutes"),
        places=(" at the library", ""),
    ),
    Scene("garden", "time", "works in the garden", units=("hours", "minutes")),
    Scene(
        "work",
        "time",
        "works at the cafe",
        units=("hours",),
        rate=Rate(
            ("{A} [earns] ${p} per {unit1}.", "The cafe pays ${p} for every {unit1} of work."),
            ("{A} [earns] {x}.", "So {A} [earns] {x}."),
            EARN,
            ("hours",),
        ),
    ),
    Scene(
        "school",
        "time",
        "reads",
        units=("hours",),
        places=(" on the train", ""),
        rate=Rate(
            ("{A} [reads] {p} pages per {unit1}.",),
            ("{A} [reads] {x}.", "So {A} [reads] {x}."),
            PAGES,
            ("hours",),
        ),
    ),
    Scene(
        "travel",
        "time",
        "travels",
        units=("days", "weeks"),
        places=(" around Europe", " across the country", ""),
        rate=Rate(
            ("{A} [spends] ${p} for each {unit1} of the trip.",),
            ("{A} [spends] {x}.",),
            replace(SPEND, domain="travel"),
            ("days",),
        ),
    ),
    Scene(
        "travel",
        "time",
        "rents a kayak",
        units=("hours", "days"),
        rate=Rate(
            ("The rental costs ${p} per {unit1}.", "The shop charges ${p} for each {unit1}."),
            ("{A} [pays] {x}.", "So {A} [pays] {x}."),
            PAY,
            ("hours", "days"),
        ),
    ),
    Scene(
        "travel",
        "time",
        "rides a bike",
        units=("hours",),
        rate=Rate(
            ("{A} [rides] {p} miles per {unit1}.", "{A} [covers] {p} miles each {unit1}."),
            ("{A} [rides] {x}.", "So {A} [rides] {x}."),
            MILES,
            ("hours",),
        ),
    ),
    Scene(
        "crafts",
        "length",
        "buys",
        "ribbon",
        units=("feet",),
        containers=(("rolls", "roll"), ("spools", "spool")),
        losses=("{A} [uses] {amt} of it to wrap a gift.", "{A} [gives] {amt} of it to {other}."),
        rate=PRICE_PER_UNIT,
    ),
    Scene(
        "crafts",
        "length",
        "buys",
        "fabric",
        units=("feet",),
        containers=(("rolls", "roll"),),
        losses=("{A} [uses] {amt} of it to sew a bag.",),
        rate=PRICE_PER_UNIT,
    ),
    Scene(
        "travel",
        "length",
        "packs",
        "rope",
        units=("feet",),
        containers=(("coils", "coil"),),
        losses=("{A} [cuts] off {amt} of it to tie the tent.",),
    ),
    Scene(
        "kitchen",
        "mass",
        "buys",
        "flour",
        units=("kilograms",),
        containers=(("bags", "bag"),),
        losses=("{A} [uses] {amt} of it to bake bread.", "{A} [gives] {amt} of it to {other}."),
        rate=PRICE_PER_UNIT,
    ),
    Scene(
        "kitchen",
        "mass",
        "buys",
        "rice",
        units=("kilograms",),
        containers=(("sacks", "sack"),),
        losses=("{A} [cooks] {amt} of it for a party.",),
        rate=PRICE_PER_UNIT,
    ),
    Scene(
        "crafts",
        "mass",
        "orders",
        "clay",
        units=("kilograms",),
        containers=(("boxes", "box"),),
        losses=("{A} [uses] {amt} of it to make pots.",),
    ),
)
