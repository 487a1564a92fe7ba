import Foundation
import PerpModel
import PerpSignals
import PerpVenues

/// Sentiment from the Numerai forum's topic titles, scored by ``SentimentLexicon``, one row a
/// day stamped at the day's end (`sentiment.csv`, the file `--signals DIR` reads; spec §4
/// "social sentiment 25 %"). The forum keeps every topic, so it backfills.
public struct ForumSentimentCollector: SignalCollector {
    public let client: ForumClient
    public let period: TimeSpan
    public var source: String { "forum" }
    public var series: [String] { ["sentiment"] }
    public var every: TimeSpan { .hours(1) }
    public var hasHistory: Bool { true }

    public init(client: ForumClient, period: TimeSpan = .days(1)) {
        self.client = client
        self.period = period
    }

    public func collect(_ request: CollectRequest) async throws -> CollectResult {
        let length = max(period.milliseconds, 1)
        // Whole periods after the file's last row (or from the backfill's start, or the last week).
        var since = request.from?.milliseconds ?? request.last["sentiment"] ?? (request.now.milliseconds - 7 * 86_400_000)
        since -= ((since % length) + length) % length
        let texts = try await client.topics(since: since) { pages, oldest in
            request.progress(
                "forum: \(pages) page\(pages == 1 ? "" : "s") read\(oldest.map { ", back to \(Timestamp(milliseconds: $0).isoDate)" } ?? "")"
            )
        }
        let periods = SentimentLexicon.periods(texts, period: period, until: request.now.milliseconds).filter { $0.time > since }
        let rows = periods.map { (time: $0.time, value: seriesValue($0.value)) }
        var summary =
            "\(texts.count) topic\(texts.count == 1 ? "" : "s") since \(Timestamp(milliseconds: since).isoDate), \(periods.count) period\(periods.count == 1 ? "" : "s") scored"
        if let last = periods.last {
            summary +=
                "; latest \(Timestamp(milliseconds: last.time).iso8601): \(seriesValue(last.value)) from \(last.texts) title\(last.texts == 1 ? "" : "s")"
        }
        return CollectResult(rows: ["sentiment": rows], summary: summary)
    }
}

/// NMR's on-chain movements from the token's `Transfer` logs, one row an hour stamped at its
/// end: NMR moving onto the labelled (exchange) addresses net of what left them
/// (`exchange_netflow.csv`, only with labels), the count of large transfers
/// (`large_transfers.csv`) and all NMR moved (`transfer_volume.csv`). Reads only confirmed
/// blocks; remembers the next block to scan and the transfers of the hour not yet over.
public struct EthereumFlowCollector: SignalCollector {
    public let client: EthereumClient
    public let labelled: Set<String>
    public let largeAt: Quantity
    public let period: TimeSpan
    public let confirmations: Int64
    public let chunk: Int64
    public var source: String { "ethereum" }
    public var series: [String] {
        (labelled.isEmpty ? [] : ["exchange_netflow"]) + ["large_transfers", "transfer_volume"]
    }
    public var every: TimeSpan { .minutes(15) }
    public var hasHistory: Bool { true }

    /// About a day of blocks (12 s each): where a first run without `--from` starts.
    static let dayOfBlocks: Int64 = 7200

    public init(
        client: EthereumClient, labelled: Set<String>, largeAt: Quantity = Quantity(5000), period: TimeSpan = .hours(1),
        confirmations: Int64 = 12, chunk: Int64 = 2000
    ) {
        self.client = client
        self.labelled = Set(labelled.map { $0.lowercased() })
        self.largeAt = largeAt
        self.period = period
        self.confirmations = max(0, confirmations)
        self.chunk = chunk
    }

    public func collect(_ request: CollectRequest) async throws -> CollectResult {
        let head = try await client.blockNumber()
        // Ethereum mainnet has some 24 million blocks; a node claiming a billion is not one to
        // scan (the scan would never end).
        guard head < 1_000_000_000 else {
            throw VenueError(
                kind: .notRetryable, endpoint: "ethereum eth_blockNumber",
                message: "the node says the chain has \(head) blocks; that is not Ethereum mainnet (check --eth-rpc)")
        }
        let latest = head - confirmations
        guard latest > 0 else { return CollectResult(rows: [:], state: request.state, summary: "the chain has no confirmed block yet") }
        var startBlock: Int64
        var spanFrom: Int64
        var pending: [TokenTransfer] = []
        if let from = request.from {
            request.progress("ethereum: finding the first block at or after \(from.iso8601)")
            startBlock = try await client.block(atOrAfter: from.milliseconds, latest: latest)
            spanFrom = from.milliseconds
        } else if let state = request.state, let saved = Self.readState(state) {
            (startBlock, spanFrom, pending) = saved
        } else {
            startBlock = max(0, latest - Self.dayOfBlocks)
            spanFrom = try await client.blockTime(startBlock)
        }
        guard startBlock <= latest else {
            return CollectResult(
                rows: [:], state: request.state, summary: "no new confirmed block (next \(startBlock), confirmed head \(latest))")
        }
        let total = latest - startBlock + 1
        let found = try await client.transfers(from: startBlock, to: latest, chunk: chunk) { done in
            request.progress("ethereum: block \(done) of \(latest) (\(Int(Double(done - startBlock + 1) / Double(total) * 100)) %)")
        }
        let untilTime = try await client.blockTime(latest)
        let transfers = pending + found
        let periods = TransferFlows.periods(
            transfers, labelled: labelled, largeAt: largeAt, period: period, from: spanFrom, until: untilTime)
        let coveredUntil = periods.last?.end ?? spanFrom
        let stillOpen = transfers.filter { $0.time >= coveredUntil }
        var rows: [String: [(time: Int64, value: String)]] = [
            "large_transfers": periods.map { ($0.end, String($0.largeCount)) },
            "transfer_volume": periods.map { ($0.end, $0.volume.description) },
        ]
        if !labelled.isEmpty { rows["exchange_netflow"] = periods.map { ($0.end, $0.netInflow.description) } }
        let state = Self.state(nextBlock: latest + 1, spanFrom: coveredUntil, pending: stillOpen)
        let net = periods.reduce(into: Int128(0)) { $0 += Int128($1.netInflow.raw) }
        let large = periods.reduce(0) { $0 + $1.largeCount }
        var summary =
            "blocks \(startBlock)…\(latest): \(found.count) transfer\(found.count == 1 ? "" : "s"), \(periods.count) hour\(periods.count == 1 ? "" : "s") closed, \(large) large (≥ \(largeAt) NMR)"
        if !labelled.isEmpty { summary += ", net onto exchanges \(Quantity(raw: Int64(clamping: net))) NMR" }
        return CollectResult(rows: rows, state: state, summary: summary)
    }

    static func state(nextBlock: Int64, spanFrom: Int64, pending: [TokenTransfer]) -> JSONValue {
        .object([
            ("next_block", .int(nextBlock)), ("span_from", .int(spanFrom)),
            (
                "pending",
                .array(
                    pending.map {
                        .object([
                            ("time", .int($0.time)), ("block", .int($0.block)), ("log_index", .int($0.logIndex)),
                            ("from", .string($0.from)),
                            ("to", .string($0.to)), ("amount", .exact($0.amount)),
                        ])
                    })
            ),
        ])
    }

    /// The saved scan position; `nil` for a state that is not ours (then the collector starts
    /// afresh, as on a first run).
    static func readState(_ json: JSONValue) -> (Int64, Int64, [TokenTransfer])? {
        // Times of a real chain: 2015 to 2100.
        guard let next = json["next_block"]?.int64Value, next >= 0, let spanFrom = json["span_from"]?.int64Value,
            (1_420_070_400_000...4_102_444_800_000).contains(spanFrom), let list = json["pending"]?.arrayValue
        else { return nil }
        var pending: [TokenTransfer] = []
        for item in list {
            guard let time = item["time"]?.int64Value, let block = item["block"]?.int64Value, let index = item["log_index"]?.int64Value,
                let from = item["from"]?.stringValue, let to = item["to"]?.stringValue,
                let amount = item["amount"]?.numericText.flatMap({ Quantity($0) })
            else { return nil }
            pending.append(TokenTransfer(time: time, block: block, logIndex: index, from: from, to: to, amount: amount))
        }
        return (next, spanFrom, pending)
    }
}

/// The Numerai network: the NMR staked across the classic tournament and the number of models
/// staking, summed from the public leaderboard (`staked.csv`, `activity.csv`, the files the
/// bot's network signals read; spec §4 "network performance 35 %"). Numerai's public API
/// serves only today's totals (the per-round totals, `v3StakeRound`, need an account key), so
/// the history is what this collector has recorded: one row per run, stamped at the minute
/// after it was read.
public struct NumeraiNetworkCollector: SignalCollector {
    public let client: NumeraiClient
    public var source: String { "numerai" }
    public var series: [String] { ["staked", "activity"] }
    public var every: TimeSpan { .hours(1) }
    public var hasHistory: Bool { false }

    public init(client: NumeraiClient) { self.client = client }

    public func collect(_ request: CollectRequest) async throws -> CollectResult {
        let entries = try await client.leaderboard { models in request.progress("numerai: \(models) models read") }
        var total = Int128(0)
        var staking = 0
        for entry in entries where entry.stake.isPositive {
            total += Int128(entry.stake.raw)
            staking += 1
        }
        let stake = Quantity(raw: Int64(clamping: total))
        // Known from the moment it was read: stamped at the next whole minute, never before.
        let minute: Int64 = 60_000
        let time = (request.now.milliseconds / minute + 1) * minute
        return CollectResult(
            rows: ["staked": [(time, stake.description)], "activity": [(time, String(staking))]],
            summary: "\(entries.count) models on the leaderboard, \(staking) staking \(stake) NMR")
    }
}

/// Numerai's round schedule into `calendar.csv` (issue 16, "Event calendar"): every round's
/// opening, close of staking and of submissions, start of scoring and resolution (payouts), as
/// ``CalendarEvent/roundKinds``. The API answers every round, past and scheduled, so a run is a
/// backfill too; the file keeps each (time, kind) once and the user's own rows untouched.
public struct NumeraiCalendarCollector: SignalCollector {
    public let client: NumeraiClient
    public let tournament: NumeraiTournament
    public var source: String { "calendar" }
    public var series: [String] { [] }
    public var every: TimeSpan { .hours(6) }
    public var hasHistory: Bool { true }

    public init(client: NumeraiClient, tournament: NumeraiTournament = .classic) {
        self.client = client
        self.tournament = tournament
    }

    public func collect(_ request: CollectRequest) async throws -> CollectResult {
        request.progress("calendar: reading Numerai's rounds")
        let rounds = try await client.rounds(tournament: tournament)
        let from = request.from?.milliseconds ?? Int64.min
        let events = rounds.flatMap(\.events).filter { $0.time.milliseconds >= from }
        let numbers = rounds.map(\.number)
        let span = numbers.min().map { "rounds \($0)–\(numbers.max() ?? $0)" } ?? "no rounds"
        return CollectResult(rows: [:], events: events, summary: "\(rounds.count) rounds (\(span)), \(events.count) dated moments")
    }
}
