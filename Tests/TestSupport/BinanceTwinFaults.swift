// The Binance USD-M twin's fault injection: what a test asks to go wrong, counted down or drawn
// from a seed, so every run is the same. Failure semantics follow Binance's general info page
// (reliability-anchors.md §2.1 "HTTP status semantics") and the scenarios table (rows 1, 2, 9).

import PerpModel

/// Faults the test arms on a ``BinanceUSDMTwin`` (`twin.faults = …` or `twin.updateFaults { … }`).
/// Counters apply to the next N matching requests and count down to zero; nothing fires at zero.
public struct TwinFaults: Sendable, Equatable {
    /// The next N order placements (`POST /fapi/v1/order`, `POST /fapi/v1/algoOrder`) are
    /// accepted and executed, then the connection closes with nothing written (a lost answer).
    public var dropResponseAfterAccept = 0
    /// The next N placements are accepted, then answered 503 `-1006` ("Execution status
    /// unknown"), or an HTML 502 page when ``serverErrorIsHTML`` is set.
    public var serverErrorAfterAccept = 0
    public var serverErrorIsHTML = false
    /// The next N placements are refused *before* acceptance with 503 "Service Unavailable."
    /// (Binance: a failure, the order was not accepted; a resend is allowed).
    public var unavailableBeforeAccept = 0
    /// The next N requests of any kind get 429 `-1003` with `Retry-After`.
    public var rateLimited = 0
    /// The next N requests of any kind get 418 (IP ban) with `Retry-After`.
    public var banned = 0
    /// The `Retry-After` value, seconds, of 429 and 418.
    public var retryAfterSeconds = 2
    /// Weight each request adds to `X-MBX-USED-WEIGHT-1M` (reset when the twin's clock enters a
    /// new minute). Binance's limit is 2400 per minute per IP.
    public var weightPerRequest = 1
    /// Every answer (and every drop) waits this long; for client timeout tests.
    public var responseDelaySeconds = 0.0
    /// The server's clock runs this far ahead (negative: behind) of the twin's clock: `/time`
    /// reports it and the signed endpoints' timing rule uses it.
    public var clockSkewMillis: Int64 = 0
    /// Of each order placement, this many per thousand (drawn from ``seed``) end as a lost answer
    /// or a `-1006` after acceptance (half each), on top of the counters above.
    public var ambiguousPerMille = 0
    /// Seed of the draws above.
    public var seed: UInt64 = 0

    /// The user data stream closes every open socket after this many more events.
    public var streamDisconnectAfterEvents: Int?
    /// The next N events are each sent twice.
    public var streamRepeatNext = 0
    /// The next N pairs of events are sent in swapped order.
    public var streamReorderNextPairs = 0

    public init() {}
}

/// What the twin does with one request before (and after) executing it.
enum FaultDecision: Equatable {
    case none
    case dropAfterAccept
    case serverErrorAfterAccept(html: Bool)
}

extension TwinFaults {
    /// Consumes the request-level faults (429, 418) for one request; returns the answer to give
    /// instead of executing it, if any.
    mutating func takeRequestFault(serverTime: Int64) -> HTTPResponseSpec? {
        if banned > 0 {
            banned -= 1
            let until = serverTime + Int64(retryAfterSeconds) * 1000
            return TwinErrors.spec(
                418, -1003,
                "Way too many requests; IP(127.0.0.1) banned until \(until). Please use the websocket for live updates to avoid bans."
            ).withHeader("Retry-After", String(retryAfterSeconds))
        }
        if rateLimited > 0 {
            rateLimited -= 1
            return TwinErrors.spec(
                429, -1003,
                "Too many requests; current limit of IP(127.0.0.1) is 2400 requests per minute. Please use the websocket for live updates to avoid polling the API."
            ).withHeader("Retry-After", String(retryAfterSeconds))
        }
        return nil
    }

    /// Consumes the placement faults for one order placement: a refusal before acceptance, or
    /// what happens to the answer after it.
    mutating func takePlacementFault(rng: inout SplitMix64) -> (refuse: HTTPResponseSpec?, after: FaultDecision) {
        if unavailableBeforeAccept > 0 {
            unavailableBeforeAccept -= 1
            return (HTTPResponseSpec.text("Service Unavailable.", status: 503), .none)
        }
        if dropResponseAfterAccept > 0 {
            dropResponseAfterAccept -= 1
            return (nil, .dropAfterAccept)
        }
        if serverErrorAfterAccept > 0 {
            serverErrorAfterAccept -= 1
            return (nil, .serverErrorAfterAccept(html: serverErrorIsHTML))
        }
        if ambiguousPerMille > 0 {
            let draw = rng.int(0...1999)
            if draw < Int64(ambiguousPerMille) { return (nil, .dropAfterAccept) }
            if draw >= 1000 && draw - 1000 < Int64(ambiguousPerMille) {
                return (nil, .serverErrorAfterAccept(html: false))
            }
        }
        return (nil, .none)
    }
}

/// Binance's error bodies (`{"code":…,"msg":…}`) with their HTTP status
/// (developers.binance.com …/usds-margined-futures/error-code; shared/data/api/binance_usdm/real_error_bodies.json).
enum TwinErrors {
    static func spec(_ status: Int, _ code: Int, _ message: String) -> HTTPResponseSpec {
        .json(#"{"code":\#(code),"msg":\#(TwinJSON.string(message))}"#, status: status)
    }

    static let unknownAfterAccept = spec(
        503, -1006, "An unexpected response was received from the message bus. Execution status unknown.")
    static let html502 = HTTPResponseSpec.bytes(
        Array("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>".utf8),
        status: 502, contentType: "text/html")
    static let badKey = spec(401, -2015, "Invalid API-key, IP, or permissions for action.")
    static let missingKey = spec(401, -2014, "API-key format invalid.")
    static let badSignature = spec(400, -1022, "Signature for this request is not valid.")
    static let staleTimestamp = spec(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    static let aheadTimestamp = spec(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    static let algoRequired = spec(
        400, -4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.")
    static let reduceOnly = spec(400, -2022, "ReduceOnly Order is rejected.")
    static let nonPositiveQuantity = spec(400, -4003, "Quantity less than or equal to zero.")
    static let precision = spec(400, -1111, "Precision is over the maximum defined for this asset.")
    static let minNotional = spec(
        400, -4164, "Order's notional must be no smaller than 5.0 (unless you choose reduce only).")
    static let noSuchOrder = spec(400, -2013, "Order does not exist.")
    static let unknownOrder = spec(400, -2011, "Unknown order sent.")
    static let noMarginChange = spec(400, -4046, "No need to change margin type.")
    static let duplicateID = spec(400, -4116, "ClientOrderId is duplicated.")
    static let immediateTrigger = spec(400, -2021, "Order would immediately trigger.")
    static let invalidOrderType = spec(400, -1116, "Invalid orderType.")
    static let invalidSymbol = spec(400, -1121, "Invalid symbol.")
    static let invalidInterval = spec(400, -1120, "Invalid interval.")
    static let unknownListenKey = spec(400, -1125, "This listenKey does not exist.")
    static let tooLarge = spec(400, -4005, "Quantity greater than max quantity.")

    static func mandatory(_ name: String) -> HTTPResponseSpec {
        spec(400, -1102, "Mandatory parameter '\(name)' was not sent, was empty/null, or malformed.")
    }

    static func illegal(_ name: String) -> HTTPResponseSpec {
        spec(400, -1100, "Illegal characters found in parameter '\(name)'.")
    }
}
