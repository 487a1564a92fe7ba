import PerpEngine
import PerpExecution
import PerpModel

/// One input of a live session, in the order the shell handled it (decision 0012). A session's
/// state is the fold of its inputs through the kernel and the execution engine, so these are
/// what the store keeps; the orders they decided are implied (client ids are a pure function of
/// the session and the sequence).
public enum LiveInput: Sendable, Hashable {
    /// A closed bar. `live: false` for a bar that closed before the process could act on it
    /// (start-up catch-up): the kernel observes it but opens nothing.
    case bar(Candle, live: Bool)
    /// A funding settlement published by the venue (feeds the funding-anomaly signal).
    case fundingRate(FundingRate)
    /// A venue answer, a snapshot, the operator's stop, a restart, time passing.
    case execution(ExecutionInput)
    /// The shell's view of the feed: silent for too long (`false`), or live again.
    case feed(live: Bool, at: Timestamp, reason: String)
    /// A row the shell could not read (a NaN price, a malformed kline).
    case badData(reason: String, at: Timestamp)
    /// A value of an external series (staked NMR from Numerai, a signals file's new line).
    case signal(ExternalSignal, value: Double, at: Timestamp)
    /// An event of the signals folder's `calendar.csv`, first seen at `at` (its blackout
    /// window applies from then on).
    case calendar(CalendarEvent, at: Timestamp)
    /// The venue answered with something that is not what the endpoint returns; the shell
    /// retried. `reason` names the endpoint and a sanitized excerpt of the body.
    case badResponse(reason: String, at: Timestamp)
    /// The venue's bars resumed after a gap: none opened at `first`, …, `last`; `at` is the
    /// open time of the bar that resumed.
    case missingBars(first: Timestamp, last: Timestamp, at: Timestamp)

    public var time: Timestamp {
        switch self {
        case .bar(let candle, _): return candle.openTime
        case .fundingRate(let rate): return rate.time
        case .execution(let input): return LiveInputCodec.time(of: input)
        case .feed(_, let at, _), .badData(_, let at), .signal(_, _, let at), .calendar(_, let at), .badResponse(_, let at),
            .missingBars(_, _, let at):
            return at
        }
    }
}

/// Why a stored input could not be read back.
public struct LiveInputDecodingError: Error, CustomStringConvertible, Sendable {
    public var seq: Int64
    public var problem: String
    public var description: String { "live input \(seq): \(problem)" }
}

/// The canonical JSON of ``LiveInput``: exact integers for every amount (raw fixed-point
/// values), milliseconds for times, names for enums. Encoding then decoding gives the same
/// input; any other text is a ``LiveInputDecodingError``, never a trap.
public enum LiveInputCodec {
    public static func time(of input: ExecutionInput) -> Timestamp {
        switch input {
        case .commands(_, let at, _), .submitted(_, _, let at), .lookedUp(_, _, let at), .cancelAnswered(_, _, let at),
            .venue(_, let at), .snapshot(_, let at), .stop(_, _, let at), .restarted(let at), .tick(let at):
            return at
        }
    }

    // MARK: Encoding

    public static func encode(_ input: LiveInput) -> (kind: String, payload: String) {
        switch input {
        case .bar(let candle, let live):
            return ("bar", object([("candle", candleJSON(candle)), ("live", .bool(live))]))
        case .fundingRate(let rate):
            return (
                "funding_rate",
                object([("time", ms(rate.time)), ("rate", .int(rate.rate.raw)), ("interval", .int(rate.interval.milliseconds))])
            )
        case .feed(let live, let at, let reason):
            return ("feed", object([("live", .bool(live)), ("at", ms(at)), ("reason", .string(reason))]))
        case .badData(let reason, let at):
            return ("bad_data", object([("reason", .string(reason)), ("at", ms(at))]))
        case .signal(let signal, let value, let at):
            // The value's bits, so that it reads back exactly.
            return (
                "signal",
                object([("signal", .string(signal.rawValue)), ("bits", .int(Int64(bitPattern: value.bitPattern))), ("at", ms(at))])
            )
        case .calendar(let event, let at):
            return (
                "calendar",
                object([("time", ms(event.time)), ("event_kind", .string(event.kind)), ("note", .string(event.note)), ("at", ms(at))])
            )
        case .badResponse(let reason, let at):
            return ("bad_response", object([("reason", .string(reason)), ("at", ms(at))]))
        case .missingBars(let first, let last, let at):
            return ("missing_bars", object([("first", ms(first)), ("last", ms(last)), ("at", ms(at))]))
        case .execution(let execution):
            switch execution {
            case .commands(_, let at, _):
                // Derived from bars, never stored; kept encodable so the codec is total.
                return ("commands", object([("at", ms(at))]))
            case .submitted(let id, let outcome, let at):
                return ("submitted", object([("client_id", .string(id)), ("outcome", submitJSON(outcome)), ("at", ms(at))]))
            case .lookedUp(let id, let outcome, let at):
                return ("looked_up", object([("client_id", .string(id)), ("outcome", lookupJSON(outcome)), ("at", ms(at))]))
            case .cancelAnswered(let id, let outcome, let at):
                return ("cancel_answered", object([("client_id", .string(id)), ("outcome", cancelJSON(outcome)), ("at", ms(at))]))
            case .venue(let event, let at):
                return ("venue", object([("event", eventJSON(event)), ("at", ms(at))]))
            case .snapshot(let snapshot, let at):
                return ("snapshot", object([("snapshot", snapshotJSON(snapshot)), ("at", ms(at))]))
            case .stop(let flatten, let reason, let at):
                return ("stop", object([("flatten", .bool(flatten)), ("reason", .string(reason)), ("at", ms(at))]))
            case .restarted(let at):
                return ("restarted", object([("at", ms(at))]))
            case .tick(let at):
                return ("tick", object([("at", ms(at))]))
            }
        }
    }

    static func object(_ members: [(String, JSONValue)]) -> String { JSONValue.object(members).serialized(pretty: false) }
    static func ms(_ time: Timestamp) -> JSONValue { .int(time.milliseconds) }
    static func raw<Unit: FixedPointValue>(_ value: Unit?) -> JSONValue { value.map { .int($0.raw) } ?? .null }

    static func candleJSON(_ candle: Candle) -> JSONValue {
        .array([
            .int(candle.openTime.milliseconds), .int(candle.open.raw), .int(candle.high.raw), .int(candle.low.raw), .int(candle.close.raw),
            .int(candle.volume.raw),
        ])
    }

    static func orderJSON(_ order: VenueOrder) -> JSONValue {
        .object([
            ("client_id", .string(order.clientID)), ("venue_id", .string(order.venueOrderID)), ("kind", .string(order.kind.rawValue)),
            ("side", .string(order.side.rawValue)), ("status", .string(order.status.rawValue)), ("quantity", raw(order.quantity)),
            ("filled", raw(order.filledQuantity)), ("average_price", raw(order.averagePrice)), ("trigger", raw(order.triggerPrice)),
            ("reduce_only", .bool(order.reduceOnly)), ("updated", ms(order.updatedAt)),
            ("triggered_id", order.triggeredOrderID.map { .string($0) } ?? .null),
        ])
    }

    static func fillJSON(_ fill: VenueFill) -> JSONValue {
        .object([
            ("trade_id", .string(fill.tradeID)), ("venue_id", .string(fill.venueOrderID)),
            ("client_id", fill.clientID.map { .string($0) } ?? .null), ("side", .string(fill.side.rawValue)),
            ("quantity", raw(fill.quantity)), ("price", raw(fill.price)), ("fee", raw(fill.fee)), ("realized", raw(fill.realizedPnL)),
            ("time", ms(fill.time)),
        ])
    }

    static func positionJSON(_ position: VenuePosition) -> JSONValue {
        .object([
            ("quantity", raw(position.quantity)), ("entry", raw(position.entryPrice)), ("mark", raw(position.markPrice)),
            ("liquidation", raw(position.liquidationPrice)), ("isolated_margin", raw(position.isolatedMargin)),
            ("leverage", position.leverage.map { .int($0) } ?? .null),
        ])
    }

    static func balanceJSON(_ balance: VenueBalance) -> JSONValue {
        .object([("wallet", raw(balance.wallet)), ("available", raw(balance.available))])
    }

    static func snapshotJSON(_ snapshot: VenueSnapshot) -> JSONValue {
        .object([
            ("open_orders", .array(snapshot.openOrders.map(orderJSON))), ("position", positionJSON(snapshot.position)),
            ("balance", balanceJSON(snapshot.balance)), ("fills", .array(snapshot.fills.map(fillJSON))), ("time", ms(snapshot.time)),
        ])
    }

    static func submitJSON(_ outcome: SubmitOutcome) -> JSONValue {
        switch outcome {
        case .accepted(let order): return .object([("accepted", orderJSON(order))])
        case .rejected(let code, let message):
            return .object([("rejected", .object([("code", .int(code)), ("message", .string(message))]))])
        case .unknown(let reason): return .object([("unknown", .string(reason))])
        }
    }

    static func lookupJSON(_ outcome: LookupOutcome) -> JSONValue {
        switch outcome {
        case .found(let order): return .object([("found", orderJSON(order))])
        case .notFound: return .object([("not_found", .bool(true))])
        case .unknown(let reason): return .object([("unknown", .string(reason))])
        }
    }

    static func cancelJSON(_ outcome: CancelOutcome) -> JSONValue {
        switch outcome {
        case .cancelled(let order): return .object([("cancelled", order.map(orderJSON) ?? .null)])
        case .notOpen: return .object([("not_open", .bool(true))])
        case .unknown(let reason): return .object([("unknown", .string(reason))])
        }
    }

    static func eventJSON(_ event: VenueEvent) -> JSONValue {
        switch event {
        case .order(let order): return .object([("order", orderJSON(order))])
        case .fill(let fill): return .object([("fill", fillJSON(fill))])
        case .position(let position): return .object([("position", positionJSON(position))])
        case .balance(let balance): return .object([("balance", balanceJSON(balance))])
        case .streamLost(let reason): return .object([("stream_lost", .string(reason))])
        case .streamRestored: return .object([("stream_restored", .bool(true))])
        }
    }

    // MARK: Decoding

    public static func decode(_ row: (seq: Int64, kind: String, payload: String)) throws(LiveInputDecodingError) -> LiveInput {
        let reader = Reader(seq: row.seq)
        let json: JSONValue
        do { json = try JSONParser.parse(row.payload) } catch { throw reader.fail("payload is not JSON (\(error.description))") }
        switch row.kind {
        case "bar":
            return .bar(try reader.candle(json["candle"]), live: try reader.bool(json["live"], "live"))
        case "funding_rate":
            return .fundingRate(
                FundingRate(
                    time: try reader.time(json["time"], "time"), rate: Rate(raw: try reader.int(json["rate"], "rate")),
                    interval: TimeSpan(milliseconds: try reader.int(json["interval"], "interval"))))
        case "submitted":
            return .execution(
                .submitted(
                    clientID: try reader.string(json["client_id"], "client_id"), try reader.submit(json["outcome"]),
                    at: try reader.time(json["at"], "at")))
        case "looked_up":
            return .execution(
                .lookedUp(
                    clientID: try reader.string(json["client_id"], "client_id"), try reader.lookup(json["outcome"]),
                    at: try reader.time(json["at"], "at")))
        case "cancel_answered":
            return .execution(
                .cancelAnswered(
                    clientID: try reader.string(json["client_id"], "client_id"), try reader.cancel(json["outcome"]),
                    at: try reader.time(json["at"], "at")))
        case "venue":
            return .execution(.venue(try reader.event(json["event"]), at: try reader.time(json["at"], "at")))
        case "snapshot":
            return .execution(.snapshot(try reader.snapshot(json["snapshot"]), at: try reader.time(json["at"], "at")))
        case "stop":
            return .execution(
                .stop(
                    flatten: try reader.bool(json["flatten"], "flatten"), reason: try reader.string(json["reason"], "reason"),
                    at: try reader.time(json["at"], "at")))
        case "feed":
            return .feed(
                live: try reader.bool(json["live"], "live"), at: try reader.time(json["at"], "at"),
                reason: try reader.string(json["reason"], "reason"))
        case "bad_data":
            return .badData(reason: try reader.string(json["reason"], "reason"), at: try reader.time(json["at"], "at"))
        case "signal":
            guard let signal = ExternalSignal(rawValue: try reader.string(json["signal"], "signal")) else {
                throw reader.fail("signal is not one of \(ExternalSignal.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let value = Double(bitPattern: UInt64(bitPattern: try reader.int(json["bits"], "bits")))
            guard value.isFinite else { throw reader.fail("the signal's value is not a finite number") }
            return .signal(signal, value: value, at: try reader.time(json["at"], "at"))
        case "calendar":
            let kind = try reader.string(json["event_kind"], "event_kind")
            guard CalendarEvent.isValidKind(kind) else { throw reader.fail("event_kind is not a calendar kind") }
            let event = CalendarEvent(
                time: try reader.time(json["time"], "time"), kind: kind, note: try reader.string(json["note"], "note"))
            return .calendar(event, at: try reader.time(json["at"], "at"))
        case "bad_response":
            return .badResponse(reason: try reader.string(json["reason"], "reason"), at: try reader.time(json["at"], "at"))
        case "missing_bars":
            let first = try reader.time(json["first"], "first")
            let last = try reader.time(json["last"], "last")
            guard first <= last else { throw reader.fail("missing bars end before they start") }
            return .missingBars(first: first, last: last, at: try reader.time(json["at"], "at"))
        case "restarted":
            return .execution(.restarted(at: try reader.time(json["at"], "at")))
        case "tick":
            return .execution(.tick(at: try reader.time(json["at"], "at")))
        default:
            throw reader.fail("unknown kind \(InputText.quoted(row.kind))")
        }
    }

    struct Reader {
        var seq: Int64

        func fail(_ problem: String) -> LiveInputDecodingError { LiveInputDecodingError(seq: seq, problem: problem) }

        func int(_ value: JSONValue?, _ name: String) throws(LiveInputDecodingError) -> Int64 {
            guard let number = value?.int64Value else { throw fail("\(name) is missing or not an integer") }
            return number
        }
        func optionalInt(_ value: JSONValue?, _ name: String) throws(LiveInputDecodingError) -> Int64? {
            guard let value, value != .null else { return nil }
            return try int(value, name)
        }
        func time(_ value: JSONValue?, _ name: String) throws(LiveInputDecodingError) -> Timestamp {
            Timestamp(milliseconds: try int(value, name))
        }
        func string(_ value: JSONValue?, _ name: String) throws(LiveInputDecodingError) -> String {
            guard let text = value?.stringValue else { throw fail("\(name) is missing or not text") }
            return text
        }
        func bool(_ value: JSONValue?, _ name: String) throws(LiveInputDecodingError) -> Bool {
            guard case .bool(let flag)? = value else { throw fail("\(name) is missing or not true/false") }
            return flag
        }
        func side(_ value: JSONValue?) throws(LiveInputDecodingError) -> Side {
            guard let side = Side(rawValue: try string(value, "side")) else { throw fail("side is not long or short") }
            return side
        }
        func candle(_ value: JSONValue?) throws(LiveInputDecodingError) -> Candle {
            guard let fields = value?.arrayValue, fields.count == 6 else { throw fail("candle is not six integers") }
            let numbers = try fields.map { value throws(LiveInputDecodingError) in try int(value, "candle") }
            return Candle(
                openTime: Timestamp(milliseconds: numbers[0]), open: Price(raw: numbers[1]), high: Price(raw: numbers[2]),
                low: Price(raw: numbers[3]), close: Price(raw: numbers[4]), volume: Quantity(raw: numbers[5]))
        }
        func order(_ value: JSONValue?) throws(LiveInputDecodingError) -> VenueOrder {
            guard let value else { throw fail("order is missing") }
            guard let kind = OrderKind(rawValue: try string(value["kind"], "kind")) else { throw fail("order kind is unknown") }
            guard let status = OrderStatus(rawValue: try string(value["status"], "status")) else { throw fail("order status is unknown") }
            return VenueOrder(
                clientID: try string(value["client_id"], "client_id"), venueOrderID: try string(value["venue_id"], "venue_id"), kind: kind,
                side: try side(value["side"]), status: status, quantity: Quantity(raw: try int(value["quantity"], "quantity")),
                filledQuantity: Quantity(raw: try int(value["filled"], "filled")),
                averagePrice: try optionalInt(value["average_price"], "average_price").map { Price(raw: $0) },
                triggerPrice: try optionalInt(value["trigger"], "trigger").map { Price(raw: $0) },
                reduceOnly: try bool(value["reduce_only"], "reduce_only"), updatedAt: try time(value["updated"], "updated"),
                triggeredOrderID: value["triggered_id"]?.stringValue)
        }
        func fill(_ value: JSONValue?) throws(LiveInputDecodingError) -> VenueFill {
            guard let value else { throw fail("fill is missing") }
            return VenueFill(
                tradeID: try string(value["trade_id"], "trade_id"), venueOrderID: try string(value["venue_id"], "venue_id"),
                clientID: value["client_id"]?.stringValue, side: try side(value["side"]),
                quantity: Quantity(raw: try int(value["quantity"], "quantity")), price: Price(raw: try int(value["price"], "price")),
                fee: Notional(raw: try int(value["fee"], "fee")), realizedPnL: Notional(raw: try int(value["realized"], "realized")),
                time: try time(value["time"], "time"))
        }
        func position(_ value: JSONValue?) throws(LiveInputDecodingError) -> VenuePosition {
            guard let value else { throw fail("position is missing") }
            return VenuePosition(
                quantity: Quantity(raw: try int(value["quantity"], "quantity")),
                entryPrice: try optionalInt(value["entry"], "entry").map { Price(raw: $0) },
                markPrice: try optionalInt(value["mark"], "mark").map { Price(raw: $0) },
                liquidationPrice: try optionalInt(value["liquidation"], "liquidation").map { Price(raw: $0) },
                isolatedMargin: try optionalInt(value["isolated_margin"], "isolated_margin").map { Notional(raw: $0) },
                leverage: try optionalInt(value["leverage"], "leverage").flatMap { Int(exactly: $0) })
        }
        func balance(_ value: JSONValue?) throws(LiveInputDecodingError) -> VenueBalance {
            guard let value else { throw fail("balance is missing") }
            return VenueBalance(
                wallet: Notional(raw: try int(value["wallet"], "wallet")),
                available: Notional(raw: try int(value["available"], "available")))
        }
        func snapshot(_ value: JSONValue?) throws(LiveInputDecodingError) -> VenueSnapshot {
            guard let value, let orders = value["open_orders"]?.arrayValue, let fills = value["fills"]?.arrayValue else {
                throw fail("snapshot is missing its orders or fills")
            }
            return VenueSnapshot(
                openOrders: try orders.map { value throws(LiveInputDecodingError) in try order(value) },
                position: try position(value["position"]), balance: try balance(value["balance"]),
                fills: try fills.map { value throws(LiveInputDecodingError) in try fill(value) }, time: try time(value["time"], "time"))
        }
        func submit(_ value: JSONValue?) throws(LiveInputDecodingError) -> SubmitOutcome {
            if let accepted = value?["accepted"] { return .accepted(try order(accepted)) }
            if let rejected = value?["rejected"] {
                guard let code = Int(exactly: try int(rejected["code"], "code")) else { throw fail("code out of range") }
                return .rejected(code: code, message: try string(rejected["message"], "message"))
            }
            if let unknown = value?["unknown"] { return .unknown(reason: try string(unknown, "unknown")) }
            throw fail("submit outcome is none of accepted, rejected, unknown")
        }
        func lookup(_ value: JSONValue?) throws(LiveInputDecodingError) -> LookupOutcome {
            if let found = value?["found"] { return .found(try order(found)) }
            if value?["not_found"] != nil { return .notFound }
            if let unknown = value?["unknown"] { return .unknown(reason: try string(unknown, "unknown")) }
            throw fail("lookup outcome is none of found, not_found, unknown")
        }
        func cancel(_ value: JSONValue?) throws(LiveInputDecodingError) -> CancelOutcome {
            if let cancelled = value?["cancelled"] { return .cancelled(cancelled == .null ? nil : try order(cancelled)) }
            if value?["not_open"] != nil { return .notOpen }
            if let unknown = value?["unknown"] { return .unknown(reason: try string(unknown, "unknown")) }
            throw fail("cancel outcome is none of cancelled, not_open, unknown")
        }
        func event(_ value: JSONValue?) throws(LiveInputDecodingError) -> VenueEvent {
            if let order = value?["order"] { return .order(try self.order(order)) }
            if let fill = value?["fill"] { return .fill(try self.fill(fill)) }
            if let position = value?["position"] { return .position(try self.position(position)) }
            if let balance = value?["balance"] { return .balance(try self.balance(balance)) }
            if let lost = value?["stream_lost"] { return .streamLost(reason: try string(lost, "stream_lost")) }
            if value?["stream_restored"] != nil { return .streamRestored }
            throw fail("venue event is of no known kind")
        }
    }
}

/// Quoting for error messages: a stored text is cut and escaped before it is shown.
enum InputText {
    static func quoted(_ text: String) -> String {
        let cut = text.count > 40 ? String(text.prefix(40)) + "…" : text
        return cut.debugDescription
    }
}
