"""Word lists the generated organisation is named from, so ids read like a real ML platform."""

from __future__ import annotations

#: business domains; the first teams are named after them, and they prefix datasets and models
DOMAINS = (
    "personalization", "search", "ads", "payments", "growth", "trust-safety", "content",
    "messaging", "maps", "notifications", "fraud", "pricing", "recommendations", "billing",
    "ml-platform", "data-platform", "marketplace", "logistics", "support", "playback",
)  # fmt: skip

#: sub-team suffixes once every domain has a team
TEAM_FOCUS = (
    "ranking", "infra", "quality", "analytics", "experimentation", "platform", "modeling",
    "serving", "data", "insights",
)  # fmt: skip

#: first names of generated people; not "alice", the reference slice's (simulator.reference)
FIRST_NAMES = (
    "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
    "wendy", "aisha", "bruno", "chen", "diego", "elena", "farah", "gus", "hana", "ines",
    "jamal", "kenji", "lena", "mateo", "nadia", "omar", "priya", "quinn", "ravi", "sofia",
    "tomas", "uma", "vera", "wei", "ximena", "yusuf", "zara", "amir", "beatriz", "conor",
    "dmitri", "emeka", "fatima", "goran", "hugo", "ingrid", "jonas", "kofi", "leila",
    "marta", "noor", "oskar", "pablo", "rosa", "samir", "tara", "uriel", "valentina",
    "yara", "zoe", "arjun", "bianca", "camille", "dara", "eitan", "freya", "gianni",
)  # fmt: skip

LAST_NAMES = (
    "ng", "smith", "garcia", "kim", "okafor", "muller", "rossi", "silva", "nguyen", "patel",
    "cohen", "novak", "larsen", "tanaka", "haddad", "ivanova", "dubois", "kowalski", "khan",
    "mensah", "moreau", "fischer", "lopez", "park", "sato", "ali", "costa", "berg", "wang",
    "lindqvist", "oconnor", "petrov", "singh", "yilmaz", "zhang", "brown", "ortiz", "reyes",
    "adeyemi", "hoffmann", "santos", "chowdhury", "jensen", "murphy", "abe", "ferreira",
)  # fmt: skip

#: what raw datasets record
RAW_EVENTS = (
    "events", "clicks", "impressions", "queries", "sessions", "transactions", "page-views",
    "orders", "signups", "ratings", "messages", "installs", "refunds", "playback-events",
    "searches", "add-to-cart", "reviews", "logins", "payouts", "shipments",
)  # fmt: skip

#: how derived datasets transform their upstreams
DERIVATIONS = (
    "daily", "hourly", "sessionized", "aggregated", "cleaned", "joined", "sampled",
    "enriched", "deduped", "labeled", "weekly", "features",
)  # fmt: skip

FEATURE_SIGNALS = (
    "watch-time", "click-rate", "session-count", "purchase-count", "cart-value",
    "search-count", "dwell-time", "skip-rate", "conversion-rate", "order-value",
    "refund-rate", "login-count", "message-count", "rating-mean", "impression-count",
    "days-since-signup", "active-days", "spend", "query-length", "bounce-rate",
    "completion-rate", "share-count", "chargeback-rate", "delivery-time", "tenure",
)  # fmt: skip

FEATURE_WINDOWS = ("1h", "1d", "7d", "14d", "28d", "30d", "90d")

FEATURE_ENTITIES = ("user", "item", "session", "merchant", "query", "device")

MODEL_TASKS = (
    "ranking", "retrieval", "ctr", "churn", "fraud", "eta", "pricing", "spam", "toxicity",
    "search-relevance", "autocomplete", "lifetime-value", "propensity", "embedding",
    "intent", "forecast", "anomaly", "bid", "dedup", "translation",
)  # fmt: skip

FRAMEWORKS = ("xgboost", "pytorch", "tensorflow", "lightgbm", "sklearn")

#: what an A/B test tries on a model
HYPOTHESES = (
    "fresher training data", "new features", "a larger model", "a recency boost",
    "calibrated scores", "a longer history window", "a new loss function",
)  # fmt: skip

CADENCES = ("daily", "weekly", "monthly")

SCHEDULE_OF_CADENCE = {"daily": "0 3 * * *", "weekly": "0 4 * * 1", "monthly": "0 5 1 * *"}

TREATMENT_NAMES = ("treatment", "treatment-b", "treatment-c")

TIERS = ("gold", "silver", "bronze")

ENVIRONMENTS = ("prod", "staging")

#: the steps of an ETL pipeline, with what each waits for
ETL_NODES = (
    {"name": "extract", "depends_on": []},
    {"name": "transform", "depends_on": ["extract"]},
    {"name": "validate", "depends_on": ["transform"]},
    {"name": "load", "depends_on": ["validate"]},
)
#: the steps of a training pipeline, with what each waits for
TRAIN_NODES = (
    {"name": "prepare-data", "depends_on": []},
    {"name": "compute-features", "depends_on": []},
    {"name": "train", "depends_on": ["prepare-data", "compute-features"]},
    {"name": "evaluate", "depends_on": ["train"]},
    {"name": "register", "depends_on": ["evaluate"]},
)
