import Foundation
import PerpEngine
import PerpExecution
import PerpLive
import PerpModel
import PerpReports
import PerpStore

/// The dashboard's JSON: one function per `/api` endpoint. Amounts are exact decimals (JSON
/// numbers written from the fixed-point values); times are ISO 8601 UTC and milliseconds.
extension SessionCatalog {
    /// Journal event groups the page filters by (the `events` query takes raw event names too).
    public static let eventGroups: [(String, [String])] = [
        ("entries", ["entry"]),
        ("exits", ["exit", "stop", "target", "time_exit", "liquidation"]),
        ("refusals", ["risk_denied"]),
        ("circuit breaker", ["circuit_breaker", "state_change"]),
        ("bad data", ["bad_data", "stale_feed", "bad_response", "missing_bars"]),
        ("funding", ["funding"]),
        ("orders", ["order", "execution"]),
        ("hedge", ["hedge"]),
    ]

    static func time(_ t: Timestamp) -> JSONValue { .string(t.iso8601) }
    static func opt<Unit: FixedPointValue>(_ value: Unit?) -> JSONValue { value.map { .exact($0) } ?? .null }

    /// Whether a process holds the session's lock (it is running), and which.
    static func running(path: String) -> JSONValue {
        guard case .held(let owner) = SessionLock.state(path: SessionLock.path(forDatabase: path)) else { return .null }
        return .object([("pid", owner.map { .int($0.pid) } ?? .null), ("since", owner.map { .string($0.since) } ?? .null)])
    }

    // MARK: - /api/sessions

    public func list() -> JSONValue {
        .array(keys.map { summary($0) })
    }

    func summary(_ key: SessionKey) -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("id", .string(key.description)), ("kind", .string(key.kind.rawValue)), ("name", .string(key.name)),
        ]
        if key.kind == .backtest, let entries = backtests[key.name] {
            let pnl = entries.compactMap(\.pnl).reduce(Notional.zero) { Notional(raw: $0.raw &+ $1.raw) }
            let trades = entries.filter { $0.pnl != nil }.count
            fields += [
                ("readable", .bool(true)), ("problem", .null), ("state", .string("finished")),
                ("updated", entries.last.map { Self.time($0.time) } ?? .null), ("realized_pnl", .exact(pnl)), ("trades", .int(trades)),
                ("journal_rows", .int(entries.count)),
            ]
            return .object(fields)
        }
        guard let entry = entries[key] else { return .object(fields + [("readable", .bool(false)), ("problem", .string("gone"))]) }
        fields += [
            ("readable", .bool(entry.problem == nil)), ("problem", entry.problem.map { .string($0) } ?? .null),
            ("running", Self.running(path: entry.path)), ("can_stop", .bool(canStop(key))),
        ]
        switch entry.content {
        case .trading(let view):
            let session = view.replay?.session
            fields += [
                ("venue", .string(view.info.venue.split(separator: " ").first.map(String.init) ?? view.info.venue)),
                ("symbol", .string(view.info.symbol)), ("interval", .string(view.info.interval.description)),
                ("state", .string(session?.kernel.state.name ?? view.status?.json["risk_state"]?.stringValue ?? "unknown")),
                ("updated", view.status.map { Self.time($0.time) } ?? .null),
                ("equity", view.replay?.points.last.map { .exact($0.equity) } ?? view.status?.json["equity"] ?? .null),
                ("position", session.map { .exact($0.engine.position) } ?? view.status?.json["position"] ?? .null),
                ("bars", .int(session?.bars ?? 0)),
                ("history_problem", view.replayProblem.map { .string($0) } ?? .null),
            ]
            if key.kind == .paper, let session {
                // A replay of recorded bars (`paper --replay`, `replay=yes`) is no paper record.
                let days = Self.isReplay(view.info.venue) ? 0 : session.record.liveDays(interval: view.info.interval)
                fields.append(("record_days", .double(days, significant: 6)))
            }
        case .hedge(let view):
            let status = view.status?.json
            fields += [
                ("venue", .string(view.info.venue)), ("symbol", .string(view.info.symbol)),
                ("state", status?["state"] ?? .string(view.replay.session.halted != nil ? "halted" : "unknown")),
                ("updated", view.status.map { Self.time($0.time) } ?? .null),
                ("stake", status?["stake"] ?? .null), ("short", status?["short"] ?? .null),
                ("collateral", status?["collateral"] ?? .null), ("required_collateral", status?["required_collateral"] ?? .null),
            ]
        case .legacyPaper, .none:
            fields.append(("state", .string("unreadable")))
        }
        return .object(fields)
    }

    // MARK: - /api/sessions/KEY/equity

    /// The equity history, thinned to about `buckets` × 4 points keeping every bucket's extremes,
    /// with the drawdown from the running peak computed on the full series first.
    public func equity(_ key: SessionKey, buckets: Int = 250) -> JSONValue? {
        if key.kind == .backtest { return backtestEquity(key) }
        guard let entry = entries[key] else { return nil }
        switch entry.content {
        case .trading(let view):
            let points = view.replay?.points ?? []
            var drawdowns = [Int64](repeating: 0, count: points.count)
            var peak = Int64.min
            var maxDrawdown: Int64 = 0
            for (index, point) in points.enumerated() {
                peak = max(peak, point.equity.raw)
                drawdowns[index] = point.equity.raw &- peak
                maxDrawdown = min(maxDrawdown, drawdowns[index])
            }
            let kept = MinMaxDownsampler.indices(count: points.count, buckets: buckets) { index in
                // Thin on equity and keep each bucket's deepest drawdown too.
                points[index].equity.raw
            }
            let deepest = MinMaxDownsampler.indices(count: points.count, buckets: buckets) { drawdowns[$0] }
            let indices = Array(Set(kept).union(deepest)).sorted()
            let rows: [JSONValue] = indices.map { index in
                let point = points[index]
                return .array([
                    .int(point.time.milliseconds), .exact(point.equity), .exact(point.realised), .exact(point.fees),
                    .exact(point.unrealised),
                    .exact(Notional(raw: 0 &- point.funding.raw)), .exact(Notional(raw: drawdowns[index])), .exact(point.price),
                ])
            }
            let last = points.last
            let columns: JSONValue = .array(
                ["time_ms", "equity", "realized_pnl", "fees", "unrealized_pnl", "funding_paid", "drawdown", "price"].map { .string($0) })
            func lastValue(_ value: (EquityPoint) -> Notional) -> JSONValue { last.map { .exact(value($0)) } ?? .null }
            var fields: [(String, JSONValue)] = [
                ("id", .string(key.description)), ("columns", columns), ("units", .string("USDT; price in USDT per NMR")),
                ("count", .int(points.count)), ("points", .array(rows)),
            ]
            fields.append(("initial_equity", points.first.map { .exact($0.equity) } ?? .null))
            fields.append(("equity", lastValue(\.equity)))
            fields.append(("realized_pnl", lastValue(\.realised)))
            fields.append(("fees", lastValue(\.fees)))
            fields.append(("unrealized_pnl", lastValue(\.unrealised)))
            fields.append(("funding_paid", last.map { .exact(Notional(raw: 0 &- $0.funding.raw)) } ?? .null))
            fields.append(("max_drawdown", .exact(Notional(raw: maxDrawdown))))
            fields.append(("problem", view.replayProblem.map { .string($0) } ?? .null))
            return .object(fields)
        case .hedge(let view):
            let points = view.replay.points
            let kept = MinMaxDownsampler.indices(count: points.count, buckets: buckets) { points[$0].price.raw }
            let rows: [JSONValue] = kept.map { index in
                let point = points[index]
                return .array([
                    .int(point.time.milliseconds), Self.opt(point.stake), .exact(point.short), .exact(point.collateral),
                    .exact(point.required), .exact(point.price),
                ])
            }
            return .object([
                ("id", .string(key.description)),
                ("columns", .array(["time_ms", "stake", "short", "collateral", "required_collateral", "price"].map { .string($0) })),
                ("units", .string("NMR; USDC; price in USDC per NMR")), ("count", .int(points.count)), ("points", .array(rows)),
            ])
        case .legacyPaper, .none:
            return .object([("id", .string(key.description)), ("count", .int(0)), ("points", .array([])), ("problem", problemJSON(entry))])
        }
    }

    private func backtestEquity(_ key: SessionKey) -> JSONValue? {
        guard let entries = backtests[key.name] else { return nil }
        var total = Notional.zero
        var rows: [JSONValue] = []
        var peak = Notional.zero
        var maxDrawdown = Notional.zero
        for entry in entries {
            guard let pnl = entry.pnl else { continue }
            total = Notional(raw: total.raw &+ pnl.raw)
            peak = max(peak, total)
            maxDrawdown = min(maxDrawdown, Notional(raw: total.raw &- peak.raw))
            rows.append(.array([.int(entry.time.milliseconds), .exact(total), .exact(Notional(raw: total.raw &- peak.raw))]))
        }
        return .object([
            ("id", .string(key.description)), ("columns", .array(["time_ms", "realized_pnl", "drawdown"].map { .string($0) })),
            ("units", .string("USDT")), ("count", .int(rows.count)), ("points", .array(rows)), ("realized_pnl", .exact(total)),
            ("max_drawdown", .exact(maxDrawdown)),
        ])
    }

    func problemJSON(_ entry: Entry) -> JSONValue { entry.problem.map { .string($0) } ?? .null }

    // MARK: - /api/sessions/KEY/positions

    public func positions(_ key: SessionKey) -> JSONValue? {
        guard key.kind != .backtest, let entry = entries[key] else { return key.kind == .backtest ? .array([]) : nil }
        switch entry.content {
        case .trading(let view):
            guard let session = view.replay?.session else {
                return .object([
                    ("id", .string(key.description)), ("positions", .array([])),
                    ("problem", view.replayProblem.map { .string($0) } ?? .null),
                ])
            }
            let engine = session.engine
            var rows: [JSONValue] = []
            if !engine.position.isZero, let mark = session.lastBar?.close {
                let venue = engine.venuePosition
                let equity = session.equity(at: mark)
                let unrealised = Notional(raw: equity.raw &- (engine.balance?.wallet.raw ?? equity.raw))
                var distance: JSONValue = .null
                if let liquidation = venue?.liquidationPrice, mark.isPositive {
                    distance = .double((liquidation.doubleValue - mark.doubleValue) / mark.doubleValue, significant: 6)
                }
                rows.append(
                    .object([
                        ("symbol", .string(view.info.symbol)), ("side", .string(engine.position.isNegative ? "short" : "long")),
                        ("quantity", .exact(engine.position.magnitude)), ("entry_price", Self.opt(engine.averageEntry)),
                        ("mark", .exact(mark)),
                        ("unrealized_pnl", .exact(unrealised)), ("liquidation_price", Self.opt(venue?.liquidationPrice)),
                        ("distance_to_liquidation", distance),
                        ("margin_mode", .string(venue?.isolatedMargin != nil ? "isolated" : "cross")),
                        ("margin", Self.opt(venue?.isolatedMargin)), ("leverage", venue?.leverage.map { .int($0) } ?? .null),
                    ]))
            }
            let orders: [JSONValue] = engine.openOrders.map { order in
                .object([
                    ("client_id", .string(order.intent.clientID)), ("kind", .string(order.intent.kind.rawValue)),
                    ("purpose", .string(order.intent.purpose.rawValue)), ("side", .string(order.intent.side.rawValue)),
                    ("quantity", .exact(order.intent.quantity)), ("trigger", Self.opt(order.intent.triggerPrice)),
                    ("status", .string(order.status.rawValue)),
                ])
            }
            return .object([
                ("id", .string(key.description)), ("positions", .array(rows)), ("open_orders", .array(orders)),
                ("wallet", Self.opt(engine.balance?.wallet)), ("available", Self.opt(engine.balance?.available)),
            ])
        case .hedge(let view):
            let status = view.status?.json
            return .object([
                ("id", .string(key.description)),
                (
                    "positions",
                    .array([
                        .object([
                            ("symbol", .string(view.info.symbol)), ("side", .string("short")), ("quantity", status?["short"] ?? .null),
                            ("mark", status?["price"] ?? .null), ("liquidation_price", status?["liquidation_price"] ?? .null),
                            ("distance_to_liquidation", status?["liquidation_distance"] ?? .null),
                            ("margin_mode", .string(view.config.settings.crossMargin ? "cross" : "isolated")),
                            ("margin", status?["collateral"] ?? .null),
                        ])
                    ])
                ),
            ])
        case .legacyPaper, .none:
            return .object([("id", .string(key.description)), ("positions", .array([])), ("problem", problemJSON(entry))])
        }
    }

    // MARK: - /api/sessions/KEY/risk

    public func risk(_ key: SessionKey) -> JSONValue? {
        guard key.kind != .backtest, let entry = entries[key] else { return nil }
        let now = clock()
        let stops = entry.store.flatMap { try? $0.pendingStops() } ?? []
        let killSwitch: JSONValue = .object([
            ("pending_stops", .int(stops.count)), ("flatten", .bool(stops.contains { $0.flatten })),
            ("requested", stops.first.map { Self.time($0.requested) } ?? .null),
        ])
        switch entry.content {
        case .trading(let view):
            guard let session = view.replay?.session else {
                return .object([
                    ("id", .string(key.description)), ("kill_switch", killSwitch),
                    ("problem", view.replayProblem.map { .string($0) } ?? .null),
                ])
            }
            let kernel = session.kernel
            let regime = kernel.regime
            var cooldown: JSONValue = .null
            if case .halted(let until) = kernel.state {
                cooldown = .object([("until", Self.time(until)), ("seconds_left", .int(max(0, (until - now).milliseconds / 1000)))])
            }
            let mark = session.lastBar?.close
            let equity = mark.map { session.equity(at: $0) }
            var leverageUsed: JSONValue = .null
            var exposureUsed: JSONValue = .null
            if let mark, let equity, equity.isPositive {
                let notional = session.engine.position.magnitude.doubleValue * mark.doubleValue
                let leverage = notional / equity.doubleValue
                leverageUsed = .double(leverage, significant: 6)
                exposureUsed = .double(leverage / max(regime.leverage.doubleValue, 1e-9), significant: 6)
            }
            let risk = kernel.config.risk
            return .object([
                ("id", .string(key.description)), ("state", .string(kernel.state.name)), ("circuit_breaker", cooldown),
                ("gate", .string(session.engine.gate.name)), ("gate_reason", session.engine.gate.reason.map { .string($0) } ?? .null),
                ("feed_live", .bool(session.feedLive)),
                (
                    "regime",
                    .object([
                        ("name", .string(regime.highVolatility ? "high volatility" : "normal")),
                        ("annual_volatility", .double(regime.annualVolatility, significant: 6)),
                        ("threshold", .double(risk.highVolatilityThreshold)),
                    ])
                ),
                ("leverage", .object([("used", leverageUsed), ("cap", .exact(regime.leverage))])),
                (
                    "exposure",
                    .object([
                        ("used", exposureUsed), ("cap", .exact(regime.exposure)),
                        ("meaning", .string("margin in use (notional ÷ leverage cap) as a fraction of equity")),
                    ])
                ),
                (
                    "quiet_hours",
                    .object([
                        ("start_hour_utc", .int(risk.quietStartHour)), ("end_hour_utc", .int(risk.quietEndHour)),
                        ("now", .bool(kernel.inQuietHours(at: now))),
                    ])
                ),
                ("kill_switch", killSwitch), ("stop_loss", .exact(risk.stopLoss)), ("take_profit", .exact(risk.takeProfit)),
                ("time_exit", .string(risk.timeExit.description)),
                (
                    "paper_record",
                    key.kind == .paper
                        ? .object([
                            (
                                "live_days",
                                .double(
                                    Self.isReplay(view.info.venue) ? 0 : session.record.liveDays(interval: view.info.interval),
                                    significant: 6)
                            ),
                            ("required_days", .int(PaperRecord.requiredDays)),
                            (
                                "complete",
                                .bool(!Self.isReplay(view.info.venue) && session.record.isComplete(interval: view.info.interval))
                            ),
                            ("replay", .bool(Self.isReplay(view.info.venue))),
                            ("max_drawdown", .double(session.record.maxDrawdown, significant: 6)),
                            ("bad_data", .int(session.record.badData)), ("stale_episodes", .int(session.record.staleEpisodes)),
                        ]) : .null
                ),
            ])
        case .hedge(let view):
            let hedge = view.replay.session
            return .object([
                ("id", .string(key.description)), ("state", view.status?.json["state"] ?? .null),
                ("halted", hedge.halted.map { .string($0) } ?? .null),
                ("stopped", hedge.stopped.map { .string($0.reason) } ?? .null), ("warning_price", Self.opt(hedge.warningPrice)),
                ("warned", .bool(hedge.warned)), ("kill_switch", killSwitch),
                ("next_rebalance", hedge.nextRebalance.map { Self.time($0) } ?? .null),
            ])
        case .legacyPaper, .none:
            return .object([("id", .string(key.description)), ("problem", problemJSON(entry))])
        }
    }

    // MARK: - /api/sessions/KEY/funding

    public func funding(_ key: SessionKey) -> JSONValue? {
        guard key.kind != .backtest, let entry = entries[key] else { return nil }
        let now = clock()
        switch entry.content {
        case .trading(let view):
            guard let replay = view.replay else {
                return .object([("id", .string(key.description)), ("problem", view.replayProblem.map { .string($0) } ?? .null)])
            }
            let session = replay.session
            var fields: [(String, JSONValue)] = [("id", .string(key.description))]
            let paid = replay.points.last?.funding
            fields.append(("funding_paid", paid.map { .exact(Notional(raw: 0 &- $0.raw)) } ?? .null))
            if let rate = replay.lastFunding {
                let interval = rate.interval.milliseconds > 0 ? rate.interval : .hours(8)
                var next = rate.time + interval
                var guardSteps = 0
                while next <= now && guardSteps < 100_000 {
                    next = next + interval
                    guardSteps += 1
                }
                let perYear = 365.0 * 86_400_000 / Double(interval.milliseconds)
                var payment: JSONValue = .null
                if let mark = session.lastBar?.close {
                    // A long pays a positive rate, a short receives it (Binance USD-M "funding
                    // fee = position value × funding rate"); positive: paid, as `funding_paid`.
                    let value = session.engine.position.doubleValue * mark.doubleValue * rate.rate.doubleValue
                    payment = .double(value, significant: 8)
                }
                fields += [
                    ("funding_rate", .exact(rate.rate)), ("funding_rate_time", Self.time(rate.time)),
                    ("interval", .string(interval.description)),
                    ("funding_apr", .double(rate.rate.doubleValue * perYear, significant: 6)),
                    ("next_settlement", Self.time(next)), ("seconds_to_next", .int(max(0, (next - now).milliseconds / 1000))),
                    ("next_funding_paid", payment),
                    (
                        "next_funding_paid_meaning",
                        .string("what the position pays (+) or receives (−) at the next settlement at this rate")
                    ),
                ]
            } else {
                fields.append(("funding_rate", .null))
            }
            if let first = replay.points.first, let last = replay.points.last, let paid, last.time > first.time {
                let averageNotional =
                    replay.points.reduce(0.0) { $0 + abs($1.equity.doubleValue - $1.unrealised.doubleValue) } / Double(replay.points.count)
                let years = Double((last.time - first.time).milliseconds) / (365.0 * 86_400_000)
                if averageNotional > 0 && years > 0 {
                    fields.append(("funding_apr_on_equity", .double(-paid.doubleValue / averageNotional / years, significant: 6)))
                }
            }
            return .object(fields)
        case .hedge(let view):
            let status = view.status?.json
            return .object([
                ("id", .string(key.description)), ("funding_paid", status?["funding_paid"] ?? .null),
                ("funding_apr", status?["funding_apr"] ?? .null),
                ("meaning", .string("funding the short has paid (+) or received (−) on the venue, and that over its notional a year")),
            ])
        case .legacyPaper, .none:
            return .object([("id", .string(key.description)), ("problem", problemJSON(entry))])
        }
    }

    // MARK: - /api/sessions/KEY/journal

    /// Journal rows newest first (at most `limit`, before `before`), of `events` when given.
    public func journal(_ key: SessionKey, limit: Int, before: Int64?, events: [String]?) -> JSONValue? {
        let limit = max(1, min(limit, 1000))
        if key.kind == .backtest {
            guard let entries = backtests[key.name] else { return nil }
            var rows: [JSONValue] = []
            var index = min(entries.count, Int(clamping: before ?? Int64(entries.count))) - 1
            while index >= 0 && rows.count < limit {
                let entry = entries[index]
                if events.map({ $0.contains(entry.event.rawValue) }) ?? true {
                    rows.append(Self.row(seq: Int64(index), line: entry.json))
                }
                index -= 1
            }
            return .object([("id", .string(key.description)), ("rows", .array(rows))])
        }
        guard let entry = entries[key] else { return nil }
        guard let store = entry.store else {
            return .object([("id", .string(key.description)), ("rows", .array([])), ("problem", problemJSON(entry))])
        }
        do {
            let rows = try store.journalPage(limit: limit, before: before, events: events)
            return .object([
                ("id", .string(key.description)),
                ("rows", .array(rows.map { Self.row(seq: $0.seq, line: JournalEntry.currentVocabulary($0.line)) })),
            ])
        } catch {
            return .object([("id", .string(key.description)), ("rows", .array([])), ("problem", .string("\(error)"))])
        }
    }

    static func row(seq: Int64, line: JSONValue) -> JSONValue {
        guard case .object(let fields) = line else { return .object([("seq", .int(seq)), ("line", line)]) }
        return .object([("seq", .int(seq))] + fields)
    }

    // MARK: - /api/sessions/KEY/hedge

    public func hedge(_ key: SessionKey) -> JSONValue? {
        guard key.kind == .hedge, let entry = entries[key], case .hedge(let view) = entry.content else { return nil }
        return .object([
            ("id", .string(key.description)), ("status", view.status?.json ?? .null),
            ("collateral_multiple", .exact(view.config.settings.collateralMultiple)),
            ("models", .array(view.config.models.map { .string($0) })), ("leverage", .int(view.config.leverage)),
            ("pool", .bool(view.config.settings.crossMargin)),
        ])
    }
}

extension SessionCatalog {
    /// Whether a paper session replays recorded bars (`paper --replay` stores `replay=yes` in its
    /// venue): its days never count toward the paper record (spec §4).
    static func isReplay(_ venue: String) -> Bool { venue.split(separator: " ").contains("replay=yes") }
}
