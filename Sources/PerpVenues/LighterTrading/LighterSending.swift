import PerpModel

/// One API key's nonces (lighter-live.md §4.2): strictly increasing per (account, API key),
/// seeded from `GET /api/v1/nextNonce`, one transaction in flight at a time (the sender holds the
/// key through the HTTP reply, so transactions arrive in nonce order). Pure: the sender tells it
/// what each answer was.
///
/// - A transaction the API refused (a 400 other than an invalid nonce) did not consume its
///   nonce: the next transaction reuses it.
/// - An accepted one consumed it, whatever the sequencer does with it later (§4.2, addendum
///   "two stages").
/// - "Invalid nonce" (21104), or an answer that never came (timeout, reset, 5xx), leaves the
///   sequence unknown: nothing more is signed until it is seeded again from `nextNonce` (after
///   the order itself has been looked up; the signer is never asked twice for one intent).
public struct LighterNonceSequence: Sendable, Equatable {
    /// What the API answered the transaction in flight.
    public enum Answer: Sendable, Equatable {
        case accepted
        case refusedByAPI
        case invalidNonce
        case unknown
    }

    /// The nonce the next transaction takes; `nil` until (re)seeded.
    public private(set) var next: Int64?
    /// The nonce of the transaction sent and not yet answered.
    public private(set) var inFlight: Int64?

    public init() {}

    /// Seeds from `nextNonce`. Refused (false) while a transaction is in flight or for a
    /// negative value.
    @discardableResult
    public mutating func seed(nextNonce: Int64) -> Bool {
        guard inFlight == nil, nextNonce >= 0 else { return false }
        next = nextNonce
        return true
    }

    /// The nonce for the next transaction, or `nil` when the sequence must be seeded first or a
    /// transaction is still in flight.
    public mutating func take() -> Int64? {
        guard inFlight == nil, let nonce = next else { return nil }
        inFlight = nonce
        return nonce
    }

    /// What became of the transaction in flight.
    public mutating func answer(_ answer: Answer) {
        guard let nonce = inFlight else { return }
        inFlight = nil
        switch answer {
        case .accepted: next = nonce == .max ? nil : nonce + 1
        case .refusedByAPI: next = nonce
        case .invalidNonce, .unknown: next = nil
        }
    }
}

/// What `POST /api/v1/sendTx` answered (lighter-live.md §4.1: `200 {code: 200, tx_hash, …}`;
/// `400 {code, message}`; 429 and 23000 for rate limits), classified for the execution layer.
public enum LighterSendAnswer: Sendable, Equatable {
    /// The API accepted it (the sequencer executes it later; the nonce is consumed).
    case accepted(txHash: String)
    /// 21104: the nonce sequence is off; seed it again.
    case invalidNonce
    /// 21120 invalid signature, 21136 outdated public key: the key or the signer is wrong; stop
    /// trading and say so, never retry.
    case keyRejected(code: Int64, message: String)
    /// 21728: an order with this client order index exists: the intent already reached the
    /// venue (look it up and adopt it).
    case duplicateClientOrderIndex
    /// A definitive refusal (not enough margin, reduce-only would increase, bad expiry, …): the
    /// nonce was not consumed.
    case refused(code: Int64, message: String)
    /// 429 or 23000–23003: wait (`Retry-After` when given) and send again with the same nonce.
    case rateLimited(retryAfter: Double?)
    /// 5xx, a dropped answer, a body we cannot read: whether it was taken is unknown.
    case unknown(reason: String)

    public static func classify(status: Int, body: [UInt8], retryAfter: Double? = nil) -> LighterSendAnswer {
        let json = try? JSONParser.parse(body)
        let code = json?["code"]?.int64Value
        let message = json?["message"]?.stringValue ?? ""
        if status == 429 || (23_000...23_003).contains(code ?? 0) { return .rateLimited(retryAfter: retryAfter) }
        if status >= 500 || json == nil {
            return .unknown(reason: "HTTP \(status): \(SafeText.excerpt(body, limit: 120))")
        }
        if status == 200 {
            guard code == 200, let hash = json?["tx_hash"]?.stringValue, !hash.isEmpty else {
                return .unknown(reason: "HTTP 200 without code 200 and a tx_hash: \(SafeText.excerpt(body, limit: 120))")
            }
            return .accepted(txHash: hash)
        }
        guard let code else { return .unknown(reason: "HTTP \(status) without a code: \(SafeText.excerpt(body, limit: 120))") }
        switch code {
        case 21104: return .invalidNonce
        case 21120, 21136: return .keyRejected(code: code, message: SafeText.excerpt(Array(message.utf8), limit: 200))
        case 21728: return .duplicateClientOrderIndex
        default: return .refused(code: code, message: SafeText.excerpt(Array(message.utf8), limit: 200))
        }
    }

    /// What the answer means for the nonce in flight.
    public var nonceAnswer: LighterNonceSequence.Answer {
        switch self {
        case .accepted: return .accepted
        case .invalidNonce: return .invalidNonce
        case .unknown: return .unknown
        // Refused at the API (the nonce was not consumed): a duplicate client order index, a
        // rate limit and a rejected key are refusals of the API too.
        case .keyRejected, .duplicateClientOrderIndex, .refused, .rateLimited: return .refusedByAPI
        }
    }
}
