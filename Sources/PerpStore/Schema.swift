import GRDB

/// The database schema and its migrations.
///
/// Migrations are append-only: a released migration is never edited; a change is a new
/// migration (`"v2"`, …). A database that holds a migration this build does not know is refused
/// (``StoreError/newerSchema(path:unknownMigrations:)``).
enum Schema {
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: v1)
        }
        return migrator
    }()

    /// Units: every time is epoch milliseconds (UTC); every amount is a raw fixed-point
    /// `INTEGER` (Int64), never a float:
    /// - `open_raw`, `high_raw`, `low_raw`, `close_raw`: raw ``Price``, scale 10^8
    ///   (1.5 USD is stored as 150000000);
    /// - `volume_raw`: raw ``Quantity``, scale 10^8;
    /// - `rate_raw`: raw ``Rate``, scale 10^12 (0.0001 is stored as 100000000).
    ///
    /// `STRICT` tables make SQLite refuse anything but an integer in those columns.
    static let v1 = """
        -- One row per cached series: a kind ('candles' or 'funding'), a source (venue feed), a
        -- symbol and an interval (bar interval, or the resolution funding was requested at).
        CREATE TABLE series (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('candles', 'funding')),
            source TEXT NOT NULL,
            symbol TEXT NOT NULL,
            interval_ms INTEGER NOT NULL CHECK (interval_ms > 0),
            UNIQUE (kind, source, symbol, interval_ms)
        ) STRICT;

        -- OHLCV bars. Prices (open_raw, high_raw, low_raw, close_raw) are raw Price integers and
        -- volume_raw a raw Quantity integer, both at scale 10^8 (value = raw / 100000000).
        CREATE TABLE candle (
            series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
            open_time_ms INTEGER NOT NULL,
            open_raw INTEGER NOT NULL,
            high_raw INTEGER NOT NULL,
            low_raw INTEGER NOT NULL,
            close_raw INTEGER NOT NULL,
            volume_raw INTEGER NOT NULL,
            PRIMARY KEY (series_id, open_time_ms),
            CHECK (low_raw > 0 AND volume_raw >= 0),
            CHECK (low_raw <= open_raw AND open_raw <= high_raw),
            CHECK (low_raw <= close_raw AND close_raw <= high_raw)
        ) WITHOUT ROWID, STRICT;

        -- Funding settlements. rate_raw is a raw Rate integer at scale 10^12
        -- (value = raw / 1000000000000); interval_ms is the interval that rate covers.
        CREATE TABLE funding (
            series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
            time_ms INTEGER NOT NULL,
            rate_raw INTEGER NOT NULL,
            interval_ms INTEGER NOT NULL CHECK (interval_ms > 0),
            PRIMARY KEY (series_id, time_ms)
        ) WITHOUT ROWID, STRICT;

        -- Spans [from_ms, to_ms) fetched completely (with or without rows in them). Ranges of
        -- one series never overlap or touch: recording a range merges it with its neighbours.
        CREATE TABLE coverage (
            series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
            from_ms INTEGER NOT NULL,
            to_ms INTEGER NOT NULL,
            PRIMARY KEY (series_id, from_ms),
            CHECK (from_ms < to_ms)
        ) WITHOUT ROWID, STRICT;
        """
}

extension Schema {
    /// The migrations of a journal file (``JournalStore``), a database of its own: it never
    /// shares a file with the market-data cache, so its identifiers differ from ``migrator``'s
    /// and each store refuses the other's file. Append-only, like ``migrator``.
    static let journalMigrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("journal-v1") { db in
            try db.execute(sql: journalV1)
        }
        return migrator
    }()

    /// One row per ``JournalEntry``, in the order they were appended (`id`, never reused).
    /// `run` names the backtest or paper session that wrote the row, so one file holds several
    /// runs. Units as in ``v1``: `time_ms` epoch milliseconds (UTC); `price_raw`, `quantity_raw`,
    /// `fee_raw`, `funding_raw`, `pnl_raw` raw integers at scale 10^8; `leverage_raw` a raw
    /// ``Rate`` at scale 10^12. NULL means the entry has no such value. `event` and `side` are
    /// the enums' raw strings, checked when read back (an unknown one is a corrupt journal), and
    /// `signals` a compact JSON object of signal name → score in the entry's order.
    static let journalV1 = """
        CREATE TABLE journal (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run TEXT NOT NULL,
            time_ms INTEGER NOT NULL,
            event TEXT NOT NULL,
            side TEXT,
            price_raw INTEGER,
            quantity_raw INTEGER,
            leverage_raw INTEGER,
            reason TEXT NOT NULL,
            signals TEXT NOT NULL,
            fee_raw INTEGER,
            funding_raw INTEGER,
            pnl_raw INTEGER,
            note TEXT NOT NULL
        ) STRICT;

        CREATE INDEX journal_by_run ON journal (run, id);
        """
}
