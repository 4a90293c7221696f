"""Retrieved-chapter fixtures: three fake books in different fields, 40 chapters in all."""

from __future__ import annotations

from chalicelib.core.models import ChapterHit

# book id -> (title, chapters); a chapter is (title, summary, topics, key concepts), numbered from 1.
BOOKS: dict[str, tuple[str, list[tuple[str, str, list[str], list[str]]]]] = {
    "valuation": (
        "Valuing a Business: Cash Flows, Risk and Price",
        [
            ("Why Valuation Matters", "What value is, who needs it and why price and value differ.",
             ["intrinsic versus relative value", "price versus value", "uses of valuation"],
             ["Intrinsic value", "Market price", "Margin of safety"]),
            ("Time Value of Money", "Compounding, discounting and the present value of cash flow streams.",
             ["present and future value", "annuities and perpetuities", "growing perpetuities",
              "nominal versus real rates"],
             ["PV = CF / (1 + r)^t", "Growing perpetuity", "Fisher equation"]),
            ("Reading Financial Statements for Valuation", "The three statements as inputs to a model.",
             ["income statement adjustments", "balance sheet items", "cash flow statement",
              "operating versus non-operating items"],
             ["EBIT", "Net working capital", "Non-operating assets"]),
            ("Free Cash Flow to the Firm", "From accounting earnings to the cash a business generates.",
             ["free cash flow to the firm", "after-tax operating income", "capital expenditure",
              "changes in working capital", "FCFF versus FCFE"],
             ["FCFF = EBIT(1 - t) + D&A - CapEx - change in NWC", "NOPAT", "Reinvestment rate"]),
            ("Forecasting Operating Performance", "Revenue growth, margins and reinvestment forecasts.",
             ["revenue growth drivers", "operating margin paths", "sales-to-capital ratio",
              "forecast horizon"],
             ["Sales-to-capital ratio", "Competitive advantage period", "Margin convergence"]),
            ("The Cost of Equity", "Risk-free rates, equity risk premiums and betas.",
             ["risk-free rate", "equity risk premium", "bottom-up betas", "country risk"],
             ["CAPM: r_e = r_f + beta x ERP", "Unlevered beta", "Implied equity risk premium"]),
            ("Cost of Capital", "Cost of debt, weights and the weighted average cost of capital.",
             ["cost of debt", "synthetic ratings", "market value weights", "tax shields"],
             ["WACC = E/V x r_e + D/V x r_d x (1 - t)", "Default spread", "Target capital structure"]),
            ("Terminal Value: Gordon Growth and Exit Multiples",
             "Closing the forecast with a stable-growth or a multiple-based terminal value.",
             ["stable growth assumptions", "Gordon growth model", "exit multiples",
              "terminal reinvestment"],
             ["TV = FCFF(n+1) / (WACC - g)", "Stable growth cap", "Implied exit multiple"]),
            ("From Enterprise Value to Equity Value", "Bridging firm value to value per share.",
             ["enterprise value bridge", "debt and debt equivalents", "minority interests",
              "diluted share count"],
             ["Equity value = EV - net debt", "Treasury stock method", "Debt equivalents"]),
            ("Sensitivity and Scenario Analysis", "How much the value moves when the inputs do.",
             ["sensitivity tables", "scenario analysis", "Monte Carlo simulation", "valuation ranges"],
             ["Two-way data table", "Tornado chart", "Base, bull and bear cases"]),
            ("Relative Valuation with Multiples", "Pricing a company against its peers.",
             ["choosing comparables", "earnings multiples", "enterprise value multiples",
              "controlling for growth"],
             ["P/E ratio", "EV/EBITDA", "PEG ratio"]),
            ("Valuing Young Companies", "Valuation with little history and negative cash flows.",
             ["total addressable market", "target margins", "failure probability",
              "dilution from future funding"],
             ["Top-down revenue build", "Probability of survival", "Narrative and numbers"]),
            ("Valuing Distressed Firms", "Going-concern risk and the value of equity in distress.",
             ["probability of default", "distress sale value", "equity as a call option"],
             ["Merton model", "Fire-sale discount", "Distress-adjusted value"]),
            ("Mergers and Acquisitions", "Synergies, control premiums and what a buyer should pay.",
             ["synergy valuation", "control premium", "accretion and dilution", "deal structure"],
             ["Value of synergy", "Control premium", "EPS accretion"]),
        ],
    ),
    "systems": (
        "Reliable Data Systems: From One Server to Many",
        [
            ("Reliability, Scalability and Maintainability", "What it means for a data system to work.",
             ["faults versus failures", "load parameters", "latency percentiles", "operability"],
             ["Tail latency", "Fault tolerance", "Service level objective"]),
            ("Data Models and Query Languages", "Relational, document and graph models compared.",
             ["relational model", "document model", "graph model", "declarative queries"],
             ["Schema on read", "Normalization", "Impedance mismatch"]),
            ("Storage Engines", "How databases lay data out on disk and find it again.",
             ["log-structured storage", "B-trees", "LSM-trees", "column storage"],
             ["Write amplification", "SSTable", "Bloom filter"]),
            ("Encoding and Evolution", "Formats for data on the wire and schema changes over time.",
             ["JSON and binary encodings", "schema evolution", "forward and backward compatibility"],
             ["Protocol Buffers", "Avro", "Schema registry"]),
            ("Replication", "Keeping copies of the same data on several machines.",
             ["leader-based replication", "multi-leader replication", "leaderless replication",
              "replication lag"],
             ["Read-your-writes consistency", "Quorum: w + r > n", "Failover"]),
            ("Partitioning", "Splitting a large dataset across nodes.",
             ["key-range partitioning", "hash partitioning", "secondary indexes", "rebalancing"],
             ["Consistent hashing", "Hot spot", "Request routing"]),
            ("Transactions", "Atomicity, isolation levels and what they protect against.",
             ["ACID", "isolation levels", "write skew", "serializability"],
             ["Snapshot isolation", "Two-phase locking", "Serializable snapshot isolation"]),
            ("The Trouble with Distributed Systems", "Unreliable networks, clocks and process pauses.",
             ["network partitions", "unreliable clocks", "process pauses", "Byzantine faults"],
             ["Fencing token", "Clock skew", "Timeout tuning"]),
            ("Consistency and Consensus", "Linearizability, ordering and agreeing on a value.",
             ["linearizability", "causal ordering", "total order broadcast", "consensus algorithms"],
             ["CAP theorem", "Raft", "Two-phase commit"]),
            ("Batch Processing", "Processing large datasets in bulk, from Unix pipes to dataflow engines.",
             ["MapReduce", "dataflow engines", "joins in batch", "materialization"],
             ["Sort-merge join", "Shuffle", "Idempotent outputs"]),
            ("Stream Processing", "Processing unbounded event streams as they arrive.",
             ["message brokers", "event logs", "change data capture", "windowing"],
             ["Exactly-once semantics", "Event time versus processing time", "Watermark"]),
            ("Event-Driven Architecture", "Services that communicate through events.",
             ["event notification", "event sourcing", "choreography versus orchestration",
              "dead-letter queues"],
             ["Idempotent consumer", "Outbox pattern", "At-least-once delivery"]),
            ("Observability", "Knowing what a running system is doing.",
             ["structured logging", "metrics", "distributed tracing", "alerting"],
             ["RED method", "Trace context", "Error budget"]),
            ("Designing for the Future", "Combining tools and keeping derived data correct.",
             ["derived data", "unbundling databases", "end-to-end correctness", "data ethics"],
             ["Lambda architecture", "End-to-end argument", "Data lineage"]),
        ],
    ),
    "bread": (
        "Flour, Water, Time: The Science of Bread",
        [
            ("Ingredients and Their Roles", "Flour, water, salt and yeast, and what each one does.",
             ["flour types", "protein content", "hydration", "salt and yeast"],
             ["Baker's percentage", "Gluten-forming proteins", "Hydration ratio"]),
            ("Mixing and Gluten Development", "Building dough strength by hand and machine.",
             ["autolyse", "kneading methods", "stretch and fold", "windowpane test"],
             ["Gluten network", "Autolyse", "Dough temperature"]),
            ("Fermentation", "How yeast and bacteria leaven and flavor dough.",
             ["bulk fermentation", "temperature control", "dough volume cues", "overproofing"],
             ["Desired dough temperature", "Fermentation rate", "Aliquot jar"]),
            ("Sourdough Starters", "Keeping and using a wild yeast culture.",
             ["creating a starter", "feeding schedules", "levain builds", "acidity"],
             ["Lactic acid bacteria", "Levain", "Inoculation percentage"]),
            ("Shaping", "Pre-shaping and final shaping for tension and structure.",
             ["pre-shaping", "bench rest", "boule and batard shapes", "surface tension"],
             ["Surface tension", "Bench rest", "Seam placement"]),
            ("Proofing and Retarding", "Final rise at room temperature or in the cold.",
             ["final proof", "cold retarding", "poke test", "proofing baskets"],
             ["Poke test", "Retardation", "Proof window"]),
            ("Scoring and Baking", "Opening the loaf and baking it with steam.",
             ["scoring patterns", "oven spring", "steam", "Dutch oven baking"],
             ["Ear formation", "Maillard reaction", "Internal temperature"]),
            ("Enriched Doughs", "Doughs with butter, eggs, sugar and milk.",
             ["brioche", "sweet doughs", "laminated doughs", "fat and gluten"],
             ["Tangzhong", "Lamination", "Osmotolerant yeast"]),
            ("Whole Grains and Rye", "Baking with bran, germ and low-gluten grains.",
             ["whole wheat", "rye chemistry", "soakers", "ancient grains"],
             ["Pentosans", "Soaker", "Scald"]),
            ("Troubleshooting Loaves", "Reading a crumb and fixing what went wrong.",
             ["dense crumb", "flat loaves", "gummy interior", "crust problems"],
             ["Crumb analysis", "Underproofing", "Gelatinization"]),
            ("Scheduling Bakes", "Fitting long fermentation into a working week.",
             ["baking schedules", "preferments", "refrigeration tricks", "same-day bakes"],
             ["Poolish", "Biga", "Overnight retard"]),
            ("Baking at Scale", "From home loaves to a bakery's production.",
             ["batch scaling", "mixer capacity", "production planning", "consistency"],
             ["Formula scaling", "Friction factor", "Yield loss"]),
        ],
    ),
}  # fmt: skip


def chapter(book_id: str, number: int, similarity: float = 0.5) -> ChapterHit:
    book_title, chapters = BOOKS[book_id]
    title, summary, topics, concepts = chapters[number - 1]
    return ChapterHit(
        book_id=book_id,
        book_title=book_title,
        chapter_number=number,
        chapter_title=title,
        summary=summary,
        topics=topics,
        key_concepts=concepts,
        similarity=similarity,
    )


def all_chapters() -> list[ChapterHit]:
    """Every chapter of every book, with similarities that fall off chapter by chapter."""
    return [
        chapter(book_id, n, round(0.9 - 0.02 * n - 0.1 * b, 3))
        for b, (book_id, (_, chapters)) in enumerate(BOOKS.items())
        for n in range(1, len(chapters) + 1)
    ]


def dcf_hits() -> list[ChapterHit]:
    """What the library returns for "Learn DCF valuation": mostly the valuation book, plus the
    odd loosely related chapter from the others, best book first as the Library port promises."""
    picks = [
        ("valuation", 4, 0.86), ("valuation", 8, 0.84), ("valuation", 7, 0.81), ("valuation", 2, 0.74),
        ("valuation", 5, 0.72), ("valuation", 6, 0.69), ("valuation", 9, 0.66), ("valuation", 10, 0.58),
        ("valuation", 3, 0.55), ("systems", 10, 0.29),
    ]  # fmt: skip
    return [chapter(book, number, sim) for book, number, sim in picks]


def bare_chapter() -> ChapterHit:
    """A chapter with nothing to split by: no topics, no key concepts, no summary."""
    return ChapterHit(
        book_id="notes",
        book_title="Loose Notes",
        chapter_number=1,
        chapter_title="Miscellany",
        summary="",
        topics=[],
        key_concepts=[],
        similarity=0.3,
    )
